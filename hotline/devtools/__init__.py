"""Tools for the people who build and run the hotline (admins only): the IVR scripts as pictures."""
