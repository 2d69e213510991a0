"""External transfers from the call panel (an agency, 120/110/119 or a typed number brought
into the caller's conference) and recorded calls (consent notice, recording webhook, the
playback proxy). See models.py for what is stored and README "Transfers and recording"."""
