"""First-party relay plugins: inbound HTTP ingest (``/api/events``), PolyAlertHub
(``/api/alerts/polyalerthub``) and the declarative routes of ``RELAYS_FILE`` (``relays``).
``fields`` holds the validation they share, ``mapping`` the JMESPath field mappings,
``vendor`` the vendor signals of relayed alerts, ``book`` the per-route delivery counters."""
