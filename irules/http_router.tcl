# HTTP router (docker-bigip-ctlr): sends each request to the pool of its host name.
#
# Data groups (string, kept in sync by the controller):
#   hosts      "www.example.com" or "www.example.com/api"  ->  pool full path
#   endpoints  "www-1.example.com"                          ->  "ADDR PORT" of one container
#              (the DNS records in the same data group hold addresses only and never match here)
# Order: host + longest path prefix (among the first 32 segments), bare host, container host,
# then the fallback.
# The upper-case words between at-signs are settings the controller fills in before upload.

when HTTP_REQUEST {
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

    # Host names are case-insensitive; the port and a trailing root dot are not part of the key.
    # An IPv6 literal keeps its brackets ("[2001:db8::1]:8080" -> "[2001:db8::1]").
    set host [string tolower [HTTP::host]]
    if {[string index $host 0] eq "\["} {
        set host [string range $host 0 [string first "\]" $host]]
    } else {
        set host [lindex [split $host ":"] 0]
    }
    set host [string trimright $host "."]

    if {$host ne ""} {
        # Path routes match whole segments, longest first: /api/v1/x tries /api/v1/x, /api/v1,
        # /api. So "/api" never captures "/apiary", and the bare host comes last.
        set prefix [string trimright [HTTP::path] "/"]
        # Only the first $max_path_segments segments count: a deeper path is cut to them before
        # the loop, so a request makes at most that many lookups here, none longer than the cut,
        # instead of one copy and one lookup per segment of the whole path (quadratic: 16 000
        # segments cost the data plane most of a second per request). The cut is found left to
        # right, each search starting after the previous slash: linear in the path length.
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
                pool $target
                return
            }
            set prefix [string range $prefix 0 [expr {[string last "/" $prefix] - 1}]]
        }
        set target [class lookup $host $hosts_dg]
        if {$target ne ""} {
            pool $target
            return
        }

        # A container host: exactly "ADDR PORT". Checked word by word (split, not list commands)
        # so that a malformed value falls through instead of a Tcl error resetting the client.
        set endpoint [split [string trim [class lookup $host $endpoints_dg]] " "]
        set addr [lindex $endpoint 0]
        set port [lindex $endpoint 1]
        if {[llength $endpoint] == 2 && [string is digit -strict $port] && $port <= 65535
                && [regexp {^[0-9]{1,3}(\.[0-9]{1,3}){3}$|^[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*$} $addr]} {
            node $addr $port
            return
        }
    }

    if {$fallback_pool ne ""} {
        pool $fallback_pool
    } else {
        HTTP::respond 404 content "No application is configured for this host name.\n" \
            "Content-Type" "text/plain; charset=utf-8" "Cache-Control" "no-store"
    }
}
