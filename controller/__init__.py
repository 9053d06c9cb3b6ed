"""docker-bigip-ctlr: keeps an F5 BIG-IP in sync with labelled Docker workloads."""

__version__ = "0.1.0"
