"""The generic OCPI 2.2.1 transport layer shared by every module. It imports no app of this project."""
