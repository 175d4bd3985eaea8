"""First-party relay plugins: inbound HTTP ingest (``/api/events``) and PolyAlertHub
(``/api/alerts/polyalerthub``). ``fields`` holds the strict validation both share."""
