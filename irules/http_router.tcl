# HTTP router (docker-bigip-ctlr): sends each request to the pool of its host name.
#
# Data groups (string, kept in sync by the controller):
#   hosts      "www.example.com" or "www.example.com/api"  ->  pool full path
#   endpoints  "www-1.example.com"                          ->  "ADDR PORT" of one container
#              (the DNS records in the same data group hold addresses only and never match here)
# Order: host + longest path prefix (among the first 32 segments), bare host, container host,
# then the fallback.
# Every request gets an HTTP answer, never a reset (the README's "What the rules answer"):
#   400  not exactly one Host, or a host that is no host name or address
#   404  no route for the host and no fallback pool
#   502  the container of a container host has an unusable address or does not answer
#   503  the chosen pool does not exist on the device, or none of its members is up
# Tcl 8.4, the interpreter BIG-IP runs iRules in: no dict, {*}, lassign, in/ni, apply, lmap or
# try (the tests run the rule in an interpreter cut down to 8.4 and scan for the syntax).
# Procs are invoked with `call` (BIG-IP 11.4 and later).
# The upper-case words between at-signs are settings the controller fills in before upload.

# An answer of the BIG-IP itself. HTTP::respond answers HTTP/1.0 and adds "Server: BIG-IP"
# unless told otherwise (clouddocs.f5.com/api/irules/HTTP__respond.html): "-version auto"
# answers in the client's version, so a keep-alive connection stays open, and noserver keeps the
# device anonymous, as the answers of the applications behind it are.
proc answer {status body} {
    HTTP::respond $status -version auto content $body noserver \
        "Content-Type" "text/plain; charset=utf-8" "Cache-Control" "no-store"
}

# Explicit priorities: 500 is what an event without one gets, lower runs first
# (clouddocs.f5.com/api/irules/priority.html). Written out so that a rule added to the same
# virtual server is ordered against this one by intent, not by attachment order.
when HTTP_REQUEST priority 500 {
    # Names go through variables: with a literal name the BIG-IP would insist, when the rule is
    # saved, that the data group already exists, and the controller creates iRules first.
    set hosts_dg @HOSTS_DG@
    set endpoints_dg @ENDPOINTS_DG@
    # Empty: answer 404; otherwise the full path of the pool that takes unknown hosts.
    set fallback_pool @FALLBACK_POOL@
    # Path routes are looked for among the first 32 segments of a request path only; the f5.path
    # label refuses deeper prefixes (MAX_PATH_SEGMENTS in controller/core/label_values.py), so no
    # route is lost, and a request with a deeper path costs at most 32 path lookups.
    set max_path_segments 32
    # What LB_FAILED answers when the target chosen below cannot take the request: "pool" or
    # "node". Variables live as long as the client connection, so every request sets it afresh.
    set routed_to ""

    # RFC 9112 section 3.2: a request with more than one Host header is answered 400. HTTP::host
    # would quietly return the last one (clouddocs.f5.com/api/irules/HTTP__host.html);
    # HTTP::header count counts them all (clouddocs.f5.com/api/irules/HTTP__header.html).
    if {[HTTP::header count "Host"] > 1} {
        call answer 400 "Bad request: the request must name exactly one valid host.\n"
        return
    }

    # Absolute form ("GET http://host/path"): HTTP::path returns the whole URI there, scheme and
    # host included (AskF5 K9952 / SOL9952), and HTTP::host the Host header only, never the host
    # of the URI (HTTP__host.html). RFC 9112 section 3.2.2: the host of the URI wins over the Host
    # header. Both parts are cut with one linear regular expression.
    if {[regexp -nocase {^https?://([^/?#]*)([^?#]*)} [HTTP::uri] -> host path]} {
        # An http URI without a host is invalid (RFC 9110 section 4.2.1).
        if {$host eq ""} {
            call answer 400 "Bad request: the request must name exactly one valid host.\n"
            return
        }
        if {$path eq ""} {
            set path "/"
        }
    } else {
        set host [HTTP::host]
        set path [HTTP::path]
    }

    # Host names are case-insensitive; the port and a trailing root dot are not part of the key.
    # Only a host name, an IPv4 address or a bracketed IPv6 literal, with an optional port, is a
    # host (RFC 9110 section 7.2): anything else is answered 400 before it is joined with the
    # path, so a crafted Host such as "api.example.com/api" can never name a path route's key.
    # An IPv6 literal keeps its brackets ("[2001:db8::1]:8080" -> "[2001:db8::1]").
    set host [string tolower $host]
    if {$host ne ""
            && ![regexp {^(\[[0-9a-f:.]+\]|[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?)(:[0-9]*)?$} $host -> host]} {
        call answer 400 "Bad request: the request must name exactly one valid host.\n"
        return
    }
    set host [string trimright $host "."]

    set target ""
    if {$host ne ""} {
        # Path routes match whole segments, longest first: /api/v1/x tries /api/v1/x, /api/v1,
        # /api. So "/api" never captures "/apiary", and the bare host comes last. Only a path that
        # starts with "/" has segments: "*" (OPTIONS) and "host:port" (CONNECT) go to the host.
        if {[string index $path 0] eq "/"} {
            set prefix [string trimright $path "/"]
            # Only the first $max_path_segments segments count: a deeper path is cut to them
            # before the loop, so a request makes at most that many lookups here, none longer
            # than the cut, instead of one copy and one lookup per segment of the whole path
            # (quadratic: 16 000 segments cost the data plane most of a second per request). The
            # cut is found left to right, each search starting after the previous slash: linear
            # in the path length.
            set slash 0
            for {set depth 0} {$depth < $max_path_segments} {incr depth} {
                set slash [string first "/" $prefix [expr {$slash + 1}]]
                if {$slash < 0} {
                    break
                }
            }
            if {$slash > 0} {
                set prefix [string range $prefix 0 [expr {$slash - 1}]]
            }
            while {$prefix ne ""} {
                set target [class lookup "$host$prefix" $hosts_dg]
                if {$target ne ""} {
                    break
                }
                set prefix [string range $prefix 0 [expr {[string last "/" $prefix] - 1}]]
            }
        }
        if {$target eq ""} {
            set target [class lookup $host $hosts_dg]
        }

        # A container host: exactly "ADDR PORT", checked word by word (split, not list commands)
        # so that a value of another shape falls through to the fallback instead of a Tcl error.
        if {$target eq ""} {
            set endpoint [split [string trim [class lookup $host $endpoints_dg]] " "]
            set addr [lindex $endpoint 0]
            set port [lindex $endpoint 1]
            if {[llength $endpoint] == 2 && [string is digit -strict $port]
                    && [regexp {^[0-9A-Fa-f.:]+$} $addr]} {
                set routed_to node
                # node fails at run time on an address or port it cannot use (999.1.1.1, port
                # 70000): caught, as a Tcl error would reset the connection
                # (devcentral.f5.com "Intermediate iRules: catch").
                if {[catch {node $addr $port} error]} {
                    log local0.err "http_router: container host address \"$addr $port\": $error"
                    call answer 502 "The container of this host name cannot be reached.\n"
                }
                return
            }
        }
    }

    if {$target eq ""} {
        set target $fallback_pool
    }
    if {$target eq ""} {
        call answer 404 "No application is configured for this host name.\n"
        return
    }
    # A pool named through a variable is looked up at run time: one the device lacks (a
    # --http-fallback pool nobody created, a pool deleted by hand) is a Tcl error, caught
    # (clouddocs.f5.com/api/irules/pool.html; devcentral.f5.com "Intermediate iRules: catch").
    set routed_to pool
    if {[catch {pool $target} error]} {
        log local0.err "http_router: pool \"$target\": $error"
        call answer 503 "No server of this application is available.\n"
    }
}

# The target chosen above cannot take the request: no member of the pool is up, or the node does
# not answer (clouddocs.f5.com/api/irules/LB_FAILED.html). Without this handler the client's
# connection is reset.
when LB_FAILED priority 500 {
    if {[info exists routed_to] && $routed_to eq "node"} {
        call answer 502 "The container of this host name cannot be reached.\n"
    } else {
        call answer 503 "No server of this application is available.\n"
    }
}
