# DNS resolver (docker-bigip-ctlr): answers container and workload names from a data group.
#
# Data groups (string, kept in sync by the controller):
#   endpoints  "shop-www-1", "www-1"  ->  "ADDR [ADDR...]"  the container's address(es)
#              "www", "shop-www"      ->  "ADDR"            the workload's virtual server
#              "www-1.example.com"    ->  "ADDR PORT"       HTTP container host: not a DNS record
#   hosts      "www.example.com", "www.example.com/api"     route host names (HTTP router)
# A name ending in the configured suffix is looked up without it (www-1.example.com -> www-1).
# The resolver is the authority of the suffix zone: every answer it builds has the AA bit, and
# its negative answers in the zone carry the zone's SOA (RFC 2308), so resolvers reaching the
# listener through a delegation do not take it for lame.
#   known name               A/AAAA records, NODATA for other types (SOA at the zone apex)
#   name with names below    NODATA: the zone apex, parents of route host names and records
#   unknown name             NXDOMAIN, or pass (--dns-fallback pass): DNS Express and the rest
#                            of the listener answer, and only what none of them answers gets
#                            NXDOMAIN (in the zone) or REFUSED (outside it) - never a drop
#   class other than IN      REFUSED, or pass
#   unusable address         SERVFAIL
# With --gtm, GTM wide IPs answer first: a wide IP of the same name wins over the data group.
# Tcl 8.4, the interpreter BIG-IP runs iRules in: no dict, {*}, lassign, in/ni, apply, lmap or
# try (the tests run the rule in an interpreter cut down to 8.4 and scan for the syntax).
# Procs are invoked with `call` (BIG-IP 11.4 and later).
# The upper-case words between at-signs are settings the controller fills in before upload.

# {V4 V6}: the addresses of a data-group value. Only values made of addresses are DNS records;
# "ADDR PORT" (an HTTP container host) and anything else malformed count as no record. An
# address that only looks like one (999.1.1.1) is caught when its record is built: SERVFAIL.
proc addresses {value} {
    set v4 {}
    set v6 {}
    foreach word [split [string trim $value] " "] {
        if {[regexp {^[0-9]{1,3}(\.[0-9]{1,3}){3}$} $word]} {
            lappend v4 $word
        } elseif {[string first ":" $word] >= 0 && [regexp {^[0-9A-Fa-f:.]+$} $word]} {
            lappend v6 $word
        } elseif {$word ne ""} {
            return [list {} {}]
        }
    }
    return [list $v4 $v6]
}

# What the question asks of this resolver, from the question alone (so DNS_REQUEST and
# DNS_RESPONSE agree without handing variables between events, which concurrent queries on one
# UDP flow would share):
#   {KIND IN_ZONE APEX OWNER V4 V6}, KIND one of records, exists, nxdomain, refused, pass;
#   for pass, V4 holds what the name would be (exists or nxdomain; empty: not this rule's).
# SCAN 0 skips the searches for names below when the answer will not be given now (pass).
proc classify {scan} {
    # Names go through variables: with a literal name the BIG-IP would insist, when the rule is
    # saved, that the data group already exists, and the controller creates iRules first.
    set endpoints_dg @ENDPOINTS_DG@
    set hosts_dg @HOSTS_DG@
    # Lower case, no leading or trailing dot; empty when no suffix is configured.
    set suffix @DNS_SUFFIX@
    # nxdomain or pass
    set fallback @DNS_FALLBACK@

    # The owner name of the answers echoes the question as asked: resolvers that randomise the
    # case of the question (DNS 0x20) compare it.
    set owner [string trimright [DNS::question name] "."]
    set name [string tolower $owner]
    # Every record here is of class IN (RFC 1035 section 3.2.4); the root is nobody's name here.
    if {[string toupper [DNS::question class]] ne "IN" || $name eq ""} {
        if {$fallback eq "pass"} {
            return [list pass 0 0 $owner {} {}]
        }
        return [list refused 0 0 $owner {} {}]
    }

    set in_zone 0
    set apex 0
    set key $name
    if {$suffix ne ""} {
        if {$name eq $suffix} {
            set in_zone 1
            set apex 1
            set key ""
        } elseif {[string range $name end-[string length $suffix] end] eq ".$suffix"} {
            set in_zone 1
            set key [string range $name 0 end-[expr {[string length $suffix] + 1}]]
        }
    }

    set found {{} {}}
    if {$key ne ""} {
        set found [call addresses [class lookup $key $endpoints_dg]]
    }
    if {[llength [lindex $found 0]] + [llength [lindex $found 1]] > 0} {
        return [list records $in_zone $apex $owner [lindex $found 0] [lindex $found 1]]
    }
    if {$fallback eq "pass" && !$scan} {
        return [list pass $in_zone $apex $owner {} {}]
    }

    # A name with names below it exists (RFC 8020: NXDOMAIN would tell resolvers the whole
    # subtree is empty): the zone apex, a parent of a route host name (served by GTM wide IPs or
    # whatever else answers for them), a parent of a record. These searches scan the data groups
    # (class search, clouddocs.f5.com/api/irules/class.html), so they run for names without
    # records only: at most three per query.
    set kind nxdomain
    if {$apex} {
        set kind exists
    } elseif {$key ne ""} {
        if {[class search -name $hosts_dg ends_with ".$name"] ne ""
                || [class search -name $hosts_dg contains ".$name/"] ne ""} {
            set kind exists
        } else {
            set below [class search -element $endpoints_dg ends_with ".$key"]
            set below [call addresses [lindex $below 1]]
            if {[llength [lindex $below 0]] + [llength [lindex $below 1]] > 0} {
                set kind exists
            }
        }
    }
    if {$fallback eq "pass"} {
        # Not ours to answer unless nothing else does: see DNS_RESPONSE.
        return [list pass $in_zone $apex $owner $kind {}]
    }
    return [list $kind $in_zone $apex $owner {} {}]
}

# Builds the whole answer to the question: header, answer and authority sections.
proc reply {kind in_zone apex owner v4 v6} {
    set suffix @DNS_SUFFIX@
    set ttl @DNS_TTL@
    # The zone's SOA (RFC 1035 section 3.3.13). MINIMUM and the record's own TTL are the answer
    # TTL: a resolver caches a negative answer for the smaller of the two (RFC 2308 section 5),
    # so a container that appears is found as soon as one that changes address is. No zone
    # transfer reads this zone (it lives in a data group), so serial, refresh, retry and expire
    # are fixed values.
    set primary @DNS_SOA_PRIMARY@
    set hostmaster @DNS_SOA_HOSTMASTER@
    set soa "$primary. $hostmaster. 1 3600 900 1209600 $ttl"

    # Whatever another module put in the sections goes: this answer replaces it.
    DNS::answer clear
    DNS::authority clear
    if {$kind eq "refused"} {
        DNS::header aa 0
        DNS::header rcode REFUSED
        return
    }
    set qtype [string toupper [DNS::question type]]
    set answered 0
    # DNS::rr fails at run time on data it cannot encode (clouddocs.f5.com/api/irules/DNS__rr.html):
    # caught, as an uncaught Tcl error would leave the query without an answer.
    if {[catch {
        if {$qtype eq "A" || $qtype eq "ANY"} {
            foreach addr $v4 {
                DNS::answer insert [DNS::rr "$owner. $ttl IN A $addr"]
                incr answered
            }
        }
        if {$qtype eq "AAAA" || $qtype eq "ANY"} {
            foreach addr $v6 {
                DNS::answer insert [DNS::rr "$owner. $ttl IN AAAA $addr"]
                incr answered
            }
        }
        if {$apex && ($qtype eq "SOA" || $qtype eq "ANY")} {
            DNS::answer insert [DNS::rr "$owner. $ttl IN SOA $soa"]
            incr answered
        }
        # NXDOMAIN and NODATA carry the SOA of the zone in the authority section (RFC 2308
        # sections 2.1 and 2.2; DNS::authority, clouddocs.f5.com/api/irules/DNS__authority.html).
        if {$answered == 0 && $in_zone} {
            DNS::authority insert [DNS::rr "$suffix. $ttl IN SOA $soa"]
        }
    } error]} {
        log local0.err "dns_resolver: cannot answer $owner $qtype: $error"
        DNS::answer clear
        DNS::authority clear
        DNS::header aa 0
        DNS::header rcode SERVFAIL
        return
    }
    # The answer of the authority of these names: the AA bit (RFC 1035 section 4.1.1; DNS::header
    # sets it, clouddocs.f5.com/api/irules/DNS__header.html).
    DNS::header aa 1
    if {$kind eq "nxdomain"} {
        DNS::header rcode NXDOMAIN
    } else {
        DNS::header rcode NOERROR
    }
}

# Explicit priorities: 500 is what an event without one gets, lower runs first
# (clouddocs.f5.com/api/irules/priority.html).
when DNS_REQUEST priority 500 {
    # 1 with --gtm: GTM wide IPs answer before this rule's data group, which answers in
    # DNS_RESPONSE what they did not.
    set gtm @GTM_ENABLED@

    if {!$gtm} {
        set plan [call classify 0]
        if {[lindex $plan 0] ne "pass"} {
            call reply [lindex $plan 0] [lindex $plan 1] [lindex $plan 2] [lindex $plan 3] \
                [lindex $plan 4] [lindex $plan 5]
            # No further resolution: the answer built here goes out (DNS__return.html).
            DNS::return
            return
        }
    }
    # Let the query go on: the listener's iRule runs first, then GTM wide IPs, then DNS Express,
    # then the unhandled-query action (AskF5 K14510). The profile's action may be "drop" (or
    # "allow" with no pool nor BIND to pass to): the client would time out. "reject" always
    # answers, REFUSED (DNS::last_act, clouddocs.f5.com/api/irules/DNS__last_act.html), and
    # DNS_RESPONSE below turns that into this rule's answer where the name is its own.
    DNS::last_act reject
}

# Every answer of the listener passes here, whoever built it (DNS::origin,
# clouddocs.f5.com/api/irules/DNS__origin.html).
when DNS_RESPONSE priority 500 {
    set origin [DNS::origin]
    # TCL: built by this rule in DNS_REQUEST. GTM_BUILD, GTM_REWRITE: a wide IP answered, and a
    # wide IP of a name wins over the data group. DNSSEC, RPZ, RATE_LIMITER: not to be undone.
    if {$origin ne "LAST_ACTION" && $origin ne "DNSX" && $origin ne "CACHE"
            && $origin ne "SERVER" && $origin ne "CLIENT"} {
        return
    }
    set plan [call classify 1]
    set kind [lindex $plan 0]
    set in_zone [lindex $plan 1]
    if {$kind eq "pass"} {
        # --dns-fallback pass: DNS Express, the cache or a server answered; leave it. Only a
        # query nothing answered (LAST_ACTION) about a name of the zone, or about a name with
        # names below it, gets this rule's answer instead of REFUSED.
        set kind [lindex $plan 4]
        if {$origin ne "LAST_ACTION" || $kind eq "" || (!$in_zone && $kind ne "exists")} {
            return
        }
        set plan [list $kind $in_zone [lindex $plan 2] [lindex $plan 3] {} {}]
    }
    call reply $kind $in_zone [lindex $plan 2] [lindex $plan 3] [lindex $plan 4] [lindex $plan 5]
}
