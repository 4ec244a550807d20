"""What runs inside an emulated host: the MN, the AP's authenticator, the PAA, ..."""
