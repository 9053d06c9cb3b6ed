# DNS resolver (docker-bigip-ctlr): answers container and workload names from a data group.
#
# Data group (string, kept in sync by the controller):
#   endpoints  "shop-www-1", "www-1"  ->  "ADDR [ADDR...]"  the container's address(es)
#              "www", "shop-www"      ->  "ADDR"            the workload's virtual server
#              "www-1.example.com"    ->  "ADDR PORT"       HTTP container host: not a DNS record
# A name ending in the configured suffix is looked up without it (www-1.example.com -> www-1).
# Known names are answered here (A with IPv4, AAAA with IPv6, NODATA for other types); unknown
# names get NXDOMAIN or pass to the next resolver, as configured.
# The upper-case words between at-signs are settings the controller fills in before upload.

when DNS_REQUEST {
    # Names go through variables: with a literal name the BIG-IP would insist, when the rule is
    # saved, that the data group already exists, and the controller creates iRules first.
    set endpoints_dg @ENDPOINTS_DG@
    # Lower case, no leading or trailing dot; empty when no suffix is configured.
    set suffix @DNS_SUFFIX@
    set ttl @DNS_TTL@
    # nxdomain or pass
    set fallback @DNS_FALLBACK@

    set qname [string trimright [DNS::question name] "."]
    set qtype [string toupper [DNS::question type]]
    set key [string tolower $qname]
    if {$suffix ne "" && [string range $key end-[string length $suffix] end] eq ".$suffix"} {
        set key [string range $key 0 end-[expr {[string length $suffix] + 1}]]
    }

    # Only values made of addresses are DNS records; "ADDR PORT" (an HTTP container host) and
    # anything else malformed count as unknown names.
    set v4 {}
    set v6 {}
    set words {}
    if {$key ne ""} {
        set words [split [string trim [class lookup $key $endpoints_dg]] " "]
    }
    foreach word $words {
        if {[regexp {^[0-9]{1,3}(\.[0-9]{1,3}){3}$} $word]} {
            lappend v4 $word
        } elseif {[string first ":" $word] >= 0 && [regexp {^[0-9A-Fa-f:.]+$} $word]} {
            lappend v6 $word
        } elseif {$word ne ""} {
            set v4 {}
            set v6 {}
            break
        }
    }

    if {[llength $v4] + [llength $v6] > 0} {
        # The owner name echoes the question as asked: resolvers that randomise the case of
        # the question (DNS 0x20) compare it.
        switch -- $qtype {
            A {
                foreach addr $v4 {
                    DNS::answer insert [DNS::rr "$qname. $ttl IN A $addr"]
                }
            }
            AAAA {
                foreach addr $v6 {
                    DNS::answer insert [DNS::rr "$qname. $ttl IN AAAA $addr"]
                }
            }
        }
        # The name exists: no matching address is NOERROR with an empty answer (NODATA).
        DNS::header rcode NOERROR
        DNS::return
    } elseif {$fallback eq "nxdomain"} {
        DNS::header rcode NXDOMAIN
        DNS::return
    }
}
