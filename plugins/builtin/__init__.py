"""The built-in plugins: Trade Hunter's own feeds, detectors, analysts, notifiers and relays.

They are registered exactly like third-party plugins (``daemon/host.py`` lists them by module
name) and import only the public contract, ``trade_hunter.plugins``; nothing in the core
imports them. They are not part of the contract: a third-party plugin imports
``trade_hunter.plugins``, never ``trade_hunter.plugins.builtin``.
"""

