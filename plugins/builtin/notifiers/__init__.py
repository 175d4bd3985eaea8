"""First-party notifier plugins (Discord). Each module is registered as a built-in plugin
(``daemon/host.py`` BUILTINS) exactly as a third-party one would be."""
