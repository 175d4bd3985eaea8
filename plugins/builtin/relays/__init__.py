"""First-party relay plugins: inbound HTTP ingest (``/api/events``), PolyAlertHub
(``/api/alerts/polyalerthub``) and the declarative routes of ``RELAYS_FILE`` (``relays``).
``fields`` holds the validation they share, ``mapping`` the JMESPath field mappings. The
vendor signals of relayed alerts are the core's (``daemon/vendor.py``: any relay's alerts
become one), the per-route delivery counters the web layer's (``web/relay_book.py``)."""
