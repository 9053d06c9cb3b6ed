"""BIG-IP side: the bigrest adapter and the iControl REST simulator."""
