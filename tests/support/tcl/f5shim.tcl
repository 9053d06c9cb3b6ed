# f5shim.tcl: a small stand-in for the BIG-IP iRule runtime, enough to execute the project's
# iRules in a stock Tcl 8.6 and record what they decide.
#
# The rule runs in a *safe* child interpreter, like on a BIG-IP where file, socket, exec and
# friends are unavailable; the F5 commands are aliases into this (master) interpreter, which
# records every routing decision. Each request gets a fresh child, as each connection gets fresh
# variables on a device. Anything the real runtime would reject (an unknown data group or pool,
# a malformed address, a bad resource record) is a Tcl error here, so a test sees it.
#
# Driver API (called from Python through tkinter):
#   ::f5::configure RULE_TEXT CLASSES POOLS
#       CLASSES: dict data-group full path -> flat key/value list; POOLS: pool full paths the
#       device has ({} accepts any pool name).
#   ::f5::http_request HOST URI          -> list of actions ({pool P} {node A P} {respond ...})
#   ::f5::dns_request NAME TYPE          -> dict rcode, returned (0/1), answers (list of RRs)
#   ::f5::logs                           -> the log lines of the last request
#   ::f5::lookups                        -> dict calls, chars: the data-group lookups (class
#                                           lookup/match/search) of the last request and the
#                                           characters of the items they looked up, the work a
#                                           device does per lookup (it hashes or scans the item)

namespace eval ::f5 {
    variable rule ""
    variable classes [dict create]
    variable pools {}
    variable child ""
    variable handlers [dict create]
    variable request [dict create]
    variable actions {}
    variable logged {}
    variable dns [dict create]
    variable lookups [dict create calls 0 chars 0]
}

proc ::f5::configure {rule_text class_dict pool_list} {
    variable rule $rule_text
    variable classes [dict create]
    variable pools $pool_list
    dict for {name records} $class_dict {
        if {[llength $records] % 2} {
            error "data group $name: odd number of key/value words"
        }
        dict set classes $name [dict create {*}$records]
    }
    return
}

# --------------------------------------------------------------------------- the child interp

proc ::f5::fresh_child {} {
    variable child
    variable handlers [dict create]
    variable rule
    if {$child ne "" && [interp exists $child]} {
        interp delete $child
    }
    set child [interp create -safe]
    interp eval $child {namespace eval ::HTTP {}; namespace eval ::DNS {}}
    foreach cmd {
        when class pool node log
        HTTP::host HTTP::uri HTTP::path HTTP::query HTTP::respond
        DNS::question DNS::answer DNS::rr DNS::header DNS::return
    } {
        interp alias $child $cmd {} ::f5::cmd_[string map {:: _} $cmd]
    }
    # The rule's top level only declares event handlers (and procs), as on a device.
    interp eval $child $rule
}

proc ::f5::fire {event} {
    variable child
    variable handlers
    if {![dict exists $handlers $event]} {
        error "the rule has no $event handler"
    }
    foreach body [dict get $handlers $event] {
        # apply gives the body its own variable frame; "return" ends the event, as on F5.
        interp eval $child [list apply [list {} $body]]
    }
}

proc ::f5::cmd_when {event args} {
    variable handlers
    # when EVENT ?priority N? ?timing on|off? BODY
    set body [lindex $args end]
    set options [lrange $args 0 end-1]
    if {[llength $options] % 2} {
        error "when $event: bad options $options"
    }
    foreach {option value} $options {
        if {$option ni {priority timing}} {
            error "when $event: unknown option $option"
        }
    }
    dict lappend handlers $event $body
    return
}

proc ::f5::cmd_log {args} {
    variable logged
    # log ?facility.level? message
    lappend logged [lindex $args end]
    return
}

# --------------------------------------------------------------------------- data groups

proc ::f5::class_records {name} {
    variable classes
    if {![dict exists $classes $name]} {
        # A device fails the same way at run time for a data group named through a variable.
        error "class: data group \"$name\" does not exist"
    }
    return [dict get $classes $name]
}

proc ::f5::compare {op item key} {
    switch -- $op {
        equals { return [expr {$item eq $key}] }
        starts_with { return [string equal -length [string length $key] $item $key] }
        ends_with { return [expr {[string range $item end-[expr {[string length $key] - 1}] end] eq $key}] }
        contains { return [expr {[string first $key $item] >= 0}] }
        default { error "class: unknown operator \"$op\"" }
    }
}

# class match/search share the option parsing; "swap" says which side the operator applies to.
proc ::f5::class_find {form words} {
    set result match
    set all 0
    while {[llength $words] > 3} {
        set word [lindex $words 0]
        set words [lrange $words 1 end]
        switch -- $word {
            -value { set result value }
            -name { set result name }
            -element { set result element }
            -index { set result index }
            -all { set all 1 }
            -- { break }
            default { error "class $form: unknown option \"$word\"" }
        }
    }
    if {[llength $words] != 3} {
        error "class $form: wrong number of arguments"
    }
    if {$form eq "match"} {
        lassign $words item op name
    } else {
        lassign $words name op item
    }
    count_lookup $item
    set found {}
    set index 0
    dict for {key value} [class_records $name] {
        # match applies the operator to the item against each key; search the other way round.
        set hit [expr {$form eq "match" ? [compare $op $item $key] : [compare $op $key $item]}]
        if {$hit} {
            switch -- $result {
                match { return 1 }
                value { lappend found $value }
                name { lappend found $key }
                element { lappend found [list $key $value] }
                index { lappend found $index }
            }
            if {!$all} {
                return [lindex $found 0]
            }
        }
        incr index
    }
    if {$result eq "match"} {
        return 0
    }
    return $found
}

proc ::f5::count_lookup {item} {
    variable lookups
    dict incr lookups calls
    dict incr lookups chars [string length $item]
    return
}

proc ::f5::cmd_class {sub args} {
    switch -- $sub {
        lookup {
            if {[llength $args] != 2} {
                error "class lookup: wrong number of arguments"
            }
            lassign $args item name
            count_lookup $item
            set records [class_records $name]
            if {[dict exists $records $item]} {
                return [dict get $records $item]
            }
            return ""
        }
        match - search { return [class_find $sub $args] }
        exists {
            variable classes
            return [dict exists $classes [lindex $args 0]]
        }
        size { return [dict size [class_records [lindex $args 0]]] }
        default { error "class: subcommand \"$sub\" is not in the shim" }
    }
}

# --------------------------------------------------------------------------- LTM decisions

proc ::f5::is_ipv4 {text} {
    if {![regexp {^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$} $text -> a b c d]} {
        return 0
    }
    foreach octet [list $a $b $c $d] {
        if {[scan $octet %d] > 255} {
            return 0
        }
    }
    return 1
}

proc ::f5::is_ipv6 {text} {
    return [expr {[string first ":" $text] >= 0 && [regexp {^[0-9A-Fa-f:.]+$} $text]
        && [llength [split $text ":"]] <= 9}]
}

proc ::f5::check_port {port what} {
    if {![string is digit -strict $port] || $port > 65535} {
        error "$what: \"$port\" is not a port"
    }
}

proc ::f5::cmd_pool {name args} {
    variable pools
    variable actions
    if {[llength $pools] && $name ni $pools} {
        error "pool: no such pool \"$name\""
    }
    if {[llength $args]} {
        # pool NAME member ADDR ?PORT?
        lassign $args word addr port
        if {$word ne "member"} {
            error "pool $name: bad argument \"$word\""
        }
        lappend actions [list pool $name member $addr $port]
    } else {
        lappend actions [list pool $name]
    }
    return
}

proc ::f5::cmd_node {addr args} {
    variable actions
    if {[llength $args] > 1} {
        error "node: wrong number of arguments"
    }
    if {![is_ipv4 $addr] && ![is_ipv6 $addr]} {
        error "node: \"$addr\" is not an IP address"
    }
    set port [lindex $args 0]
    if {$port ne ""} {
        check_port $port node
    }
    lappend actions [list node $addr $port]
    return
}

# --------------------------------------------------------------------------- HTTP

proc ::f5::http_request {host uri} {
    variable request [dict create host $host uri $uri]
    variable actions {}
    variable logged {}
    variable lookups [dict create calls 0 chars 0]
    fresh_child
    fire HTTP_REQUEST
    return $actions
}

proc ::f5::cmd_HTTP_host {} {
    variable request
    return [dict get $request host]
}

proc ::f5::cmd_HTTP_uri {} {
    variable request
    return [dict get $request uri]
}

proc ::f5::cmd_HTTP_path {} {
    variable request
    return [lindex [split [dict get $request uri] "?"] 0]
}

proc ::f5::cmd_HTTP_query {} {
    variable request
    set uri [dict get $request uri]
    set mark [string first "?" $uri]
    return [expr {$mark < 0 ? "" : [string range $uri [expr {$mark + 1}] end]}]
}

proc ::f5::cmd_HTTP_respond {status args} {
    variable actions
    if {![string is digit -strict $status] || $status < 100 || $status > 599} {
        error "HTTP::respond: \"$status\" is not a status code"
    }
    set body ""
    if {[lindex $args 0] eq "content"} {
        set body [lindex $args 1]
        set args [lrange $args 2 end]
    }
    if {[llength $args] % 2} {
        error "HTTP::respond: header name without a value"
    }
    lappend actions [list respond $status $body $args]
    return
}

# --------------------------------------------------------------------------- DNS

proc ::f5::dns_request {name type} {
    variable request [dict create name $name type $type class IN]
    variable actions {}
    variable logged {}
    variable dns [dict create rcode NOERROR returned 0 answers {}]
    variable lookups [dict create calls 0 chars 0]
    fresh_child
    fire DNS_REQUEST
    return $dns
}

proc ::f5::cmd_DNS_question {field args} {
    variable request
    if {[llength $args]} {
        error "DNS::question: the shim does not rewrite questions"
    }
    if {$field ni {name type class}} {
        error "DNS::question: unknown field \"$field\""
    }
    return [dict get $request $field]
}

# Validates one resource record in zone-file form and returns it with single spaces.
proc ::f5::check_rr {text} {
    set words [regexp -all -inline {\S+} $text]
    if {[llength $words] != 5} {
        error "DNS::rr: \"$text\" is not NAME TTL CLASS TYPE RDATA"
    }
    lassign $words name ttl class type rdata
    if {[string index $name end] ne "."} {
        error "DNS::rr: owner \"$name\" is not fully qualified (no trailing dot)"
    }
    if {![string is digit -strict $ttl] || $ttl > 2147483647} {
        error "DNS::rr: bad TTL \"$ttl\""
    }
    if {$class ne "IN"} {
        error "DNS::rr: class \"$class\" is not IN"
    }
    switch -- $type {
        A { set ok [is_ipv4 $rdata] }
        AAAA { set ok [expr {[is_ipv6 $rdata] && ![is_ipv4 $rdata]}] }
        default { error "DNS::rr: the shim knows A and AAAA only, not \"$type\"" }
    }
    if {!$ok} {
        error "DNS::rr: \"$rdata\" is not valid $type data"
    }
    return [join $words " "]
}

proc ::f5::cmd_DNS_rr {args} {
    if {[llength $args] != 1} {
        error "DNS::rr: the shim supports the one-string form only"
    }
    return [check_rr [lindex $args 0]]
}

proc ::f5::cmd_DNS_answer {sub args} {
    variable dns
    switch -- $sub {
        insert {
            if {[llength $args] != 1} {
                error "DNS::answer insert: wrong number of arguments"
            }
            dict lappend dns answers [check_rr [lindex $args 0]]
        }
        clear { dict set dns answers {} }
        default { error "DNS::answer: subcommand \"$sub\" is not in the shim" }
    }
    return
}

proc ::f5::cmd_DNS_header {field args} {
    variable dns
    set rcodes {NOERROR FORMERR SERVFAIL NXDOMAIN NOTIMPL REFUSED YXDOMAIN YXRRSET NXRRSET
        NOTAUTH NOTZONE}
    if {$field ne "rcode"} {
        error "DNS::header: the shim knows rcode only, not \"$field\""
    }
    if {[llength $args] == 0} {
        return [dict get $dns rcode]
    }
    set value [string toupper [lindex $args 0]]
    if {$value ni $rcodes} {
        error "DNS::header rcode: unknown code \"[lindex $args 0]\""
    }
    dict set dns rcode $value
    return
}

proc ::f5::cmd_DNS_return {} {
    variable dns
    dict set dns returned 1
    return
}

proc ::f5::logs {} {
    variable logged
    return $logged
}

proc ::f5::lookups {} {
    variable lookups
    return $lookups
}
