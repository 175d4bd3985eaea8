"""A third-party plugin whose import raises: reported as failed, the daemon runs on."""

raise RuntimeError("this plugin is broken on purpose")
