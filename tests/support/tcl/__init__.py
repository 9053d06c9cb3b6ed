"""Runs the project's iRules in a real Tcl interpreter through the F5 shim (f5shim.tcl)."""
