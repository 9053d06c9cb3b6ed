# f5shim.tcl: a small stand-in for the BIG-IP iRule runtime, enough to execute the project's
# iRules in a stock Tcl 8.6 and record what they decide.
#
# The rule runs in a *safe* child interpreter, like on a BIG-IP where file, socket, exec and
# friends are unavailable; the F5 commands are aliases into this (master) interpreter, which
# records every routing decision. Each request gets a fresh child, as each connection gets fresh
# variables on a device; the events of one request run at the child's top level, so a variable
# set in HTTP_REQUEST is still there in LB_FAILED, as on a device ("local variables ... exist for
# the life of the connection"). Anything the real runtime would reject (an unknown data group or
# pool, a malformed address, a bad resource record) is a Tcl error here, so a test sees it: on a
# device the connection would be reset.
#
# Tcl 8.4: a BIG-IP runs iRules in an interpreter based on Tcl 8.4, this one is 8.6. The child
# loses the commands 8.4 lacks (dict, lassign, apply, lmap, try, ...) and refuses the
# subcommands and options added since (string reverse, lsearch -index, switch -nocase, an incr
# of an unset variable, ...), so a rule that would not run on a device fails here too. Syntax
# the interpreter parses itself ({*}, the in/ni/** operators of expr) is refused by the scan in
# tests/unit/test_irules_load.py.
#
# Driver API (called from Python through tkinter):
#   ::f5::configure RULE_TEXT CLASSES POOLS
#       CLASSES: dict data-group full path -> flat key/value list; POOLS: pool full paths the
#       device has ({} accepts any pool name).
#   ::f5::set_down TARGETS          pools with no member up and node addresses that do not answer
#   ::f5::set_dns WIDEIPS DNSX LAST_ACT
#       what answers a query the rule lets through: GTM wide IPs (name -> IPv4 addresses),
#       DNS Express (name -> {rcode RRs}) and the DNS profile's unhandled-query action
#   ::f5::http_request URI HEADERS VERSION
#       -> the trace of the request: the decision of HTTP_REQUEST ({pool P}, {node A P} or
#          {respond STATUS VERSION BODY HEADERS}); when the target cannot take the request,
#          {lb_failed REASON} and what LB_FAILED decided, or {reset REASON} without a handler
#   ::f5::dns_request NAME TYPE CLASS
#       -> dict dropped (0/1), rcode, aa, answers, authority, origin (DNS::origin of the answer)
#   ::f5::logs                           -> the log lines of the last request
#   ::f5::lookups                        -> dict calls, chars: the data-group lookups (class
#                                           lookup/match/search) of the last request and the
#                                           characters of the items they looked up, the work a
#                                           device does per lookup (it hashes or scans the item)

namespace eval ::f5 {
    variable rule ""
    variable classes [dict create]
    variable pools {}
    variable down {}
    variable wideips [dict create]
    variable dnsx [dict create]
    variable profile_last_act allow
    variable child ""
    variable handlers {}
    variable request [dict create]
    variable actions {}
    variable logged {}
    variable dns [dict create]
    variable lookups [dict create calls 0 chars 0]
    variable event ""

    # Tcl 8.5 and 8.6 additions, by command: what the child must not offer.
    variable newer_commands {
        dict lassign lrepeat lreverse apply lmap try throw tailcall coroutine yield yieldto
        chan zlib
    }
    variable string_subcommands_84 {
        bytelength compare equal first index is last length map match range repeat replace
        tolower totitle toupper trim trimleft trimright wordend wordstart
    }
    variable string_classes_84 {
        alnum alpha ascii boolean control digit double false graph integer lower print punct
        space true upper wordchar xdigit
    }
    variable info_subcommands_84 {
        args body cmdcount commands complete default exists functions globals hostname level
        library loaded locals nameofexecutable patchlevel procs script sharedlibextension
        tclversion vars
    }
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

proc ::f5::set_down {targets} {
    variable down $targets
    return
}

proc ::f5::set_dns {wideip_dict dnsx_dict last_act} {
    variable wideips [dict create]
    variable dnsx [dict create]
    variable profile_last_act
    dict for {name addresses} $wideip_dict {
        dict set wideips [string tolower [string trimright $name .]] $addresses
    }
    dict for {name reply} $dnsx_dict {
        dict set dnsx [string tolower [string trimright $name .]] $reply
    }
    check_last_act $last_act
    set profile_last_act $last_act
    return
}

# --------------------------------------------------------------------------- the child interp

proc ::f5::fresh_child {} {
    variable child
    variable handlers {}
    variable default_priority 500
    variable rule
    if {$child ne "" && [interp exists $child]} {
        interp delete $child
    }
    set child [interp create -safe]
    interp eval $child {rename proc ::__proc}
    restrict_to_tcl84 $child
    interp eval $child {namespace eval ::HTTP {}; namespace eval ::DNS {}}
    foreach cmd {
        when priority class pool node log
        HTTP::host HTTP::uri HTTP::path HTTP::query HTTP::header HTTP::version HTTP::respond
        DNS::question DNS::answer DNS::authority DNS::additional DNS::rr DNS::header
        DNS::return DNS::origin DNS::last_act
    } {
        interp alias $child $cmd {} ::f5::cmd_[string map {:: _} $cmd]
    }
    # Procs of an iRule live in the rule's namespace and are invoked with `call` (BIG-IP 11.4+):
    # a proc called by its bare name is an unknown command, as on a device.
    interp eval $child {
        namespace eval ::rule {}
        ::__proc proc {name params body} {
            if {[::__string first "::" $name] >= 0} {
                error "proc $name: an iRule proc has a plain name"
            }
            namespace eval ::rule [list ::__proc $name $params $body]
        }
        ::__proc call {name args} {
            set name [namespace tail $name]
            if {[::__info procs ::rule::$name] eq ""} {
                error "call: no proc \"$name\" in the rule"
            }
            set code [::__catch {uplevel 1 [linsert $args 0 ::rule::$name]} result options]
            ::__dict incr options -level
            return -options $options $result
        }
    }
    # The rule's top level only declares event handlers and procs, as on a device.
    interp eval $child $rule
}

# Tcl 8.4 in an 8.6 interpreter: remove what is newer, wrap what grew new forms.
proc ::f5::restrict_to_tcl84 {child} {
    variable newer_commands
    variable string_subcommands_84
    variable string_classes_84
    variable info_subcommands_84
    # Renamed out of the way rather than deleted: the wrappers below are 8.6 code.
    foreach cmd $newer_commands {
        if {[interp eval $child [list info commands $cmd]] ne ""} {
            interp eval $child [list rename $cmd ::__$cmd]
        }
    }
    foreach cmd {string lsearch lsort switch incr catch info} {
        interp eval $child [list rename $cmd ::__$cmd]
    }
    interp eval $child [list ::__proc string {sub args} [string map [list \
        @SUBS@ [list $string_subcommands_84] @CLASSES@ [list $string_classes_84]] {
        if {[::__lsearch -exact @SUBS@ $sub] < 0} {
            error "string $sub: not in Tcl 8.4"
        }
        if {$sub eq "is" && [::__lsearch -exact @CLASSES@ [lindex $args 0]] < 0} {
            error "string is [lindex $args 0]: not in Tcl 8.4"
        }
        uplevel 1 [linsert $args 0 ::__string $sub]
    }]]
    interp eval $child {
        ::__proc lsearch {args} {
            foreach word [lrange $args 0 end-2] {
                if {[::__lsearch -exact {-index -subindices -nocase -bisect -stride} $word] >= 0} {
                    error "lsearch $word: not in Tcl 8.4"
                }
            }
            uplevel 1 [linsert $args 0 ::__lsearch]
        }
        ::__proc lsort {args} {
            foreach word [lrange $args 0 end-1] {
                if {[::__lsearch -exact {-nocase -indices -stride} $word] >= 0} {
                    error "lsort $word: not in Tcl 8.4"
                }
            }
            uplevel 1 [linsert $args 0 ::__lsort]
        }
        ::__proc switch {args} {
            foreach word $args {
                if {$word eq "--" || [::__string index $word 0] ne "-"} {
                    break
                }
                if {[::__lsearch -exact {-nocase -matchvar -indexvar} $word] >= 0} {
                    error "switch $word: not in Tcl 8.4"
                }
            }
            # A return (or break) in a branch acts on the caller, as with the real switch.
            set code [::__catch {uplevel 1 [linsert $args 0 ::__switch]} result options]
            ::__dict incr options -level
            return -options $options $result
        }
        ::__proc incr {name args} {
            upvar 1 $name value
            if {![::__info exists value]} {
                # Tcl 8.5 creates the variable; 8.4 fails.
                error "can't read \"$name\": no such variable"
            }
            uplevel 1 [linsert $args 0 ::__incr $name]
        }
        ::__proc catch {script args} {
            if {[llength $args] > 1} {
                error "catch with an options variable: not in Tcl 8.4"
            }
            set code [uplevel 1 [linsert $args 0 ::__catch $script]]
            return $code
        }
    }
    interp eval $child [list ::__proc info {sub args} [string map [list \
        @SUBS@ [list $info_subcommands_84]] {
        if {[::__lsearch -exact @SUBS@ $sub] < 0} {
            error "info $sub: not in Tcl 8.4"
        }
        uplevel 1 [linsert $args 0 ::__info $sub]
    }]]
    return
}

# Runs the handlers of `event` in priority order (lower first; equal ones in the order they were
# declared: lsort is stable), each at the child's top level. `return` ends one handler, as on F5.
proc ::f5::fire {event {required 1}} {
    variable child
    variable handlers
    set bodies {}
    foreach handler [lsort -integer -index 0 $handlers] {
        lassign $handler priority order name body
        if {$name eq $event} {
            lappend bodies $body
        }
    }
    if {![llength $bodies]} {
        if {$required} {
            error "the rule has no $event handler"
        }
        return 0
    }
    set ::f5::event $event
    try {
        foreach body $bodies {
            interp eval $child $body
        }
    } finally {
        set ::f5::event ""
    }
    return 1
}

proc ::f5::has_handler {event} {
    variable handlers
    foreach handler $handlers {
        if {[lindex $handler 2] eq $event} {
            return 1
        }
    }
    return 0
}

proc ::f5::check_priority {value} {
    if {![string is digit -strict $value] || $value > 1000} {
        error "priority: \"$value\" is not 0 to 1000"
    }
}

# priority N at the outermost scope sets the priority of the events declared after it.
proc ::f5::cmd_priority {value} {
    variable default_priority
    check_priority $value
    set default_priority $value
    return
}

proc ::f5::cmd_when {event args} {
    variable handlers
    variable default_priority
    # when EVENT ?priority N? ?timing on|off? BODY (clouddocs.f5.com/api/irules/when.html)
    set body [lindex $args end]
    set options [lrange $args 0 end-1]
    if {[llength $options] % 2} {
        error "when $event: bad options $options"
    }
    set priority $default_priority
    foreach {option value} $options {
        switch -- $option {
            priority {
                check_priority $value
                set priority $value
            }
            timing {
                if {$value ni {on off}} {
                    error "when $event: timing $value"
                }
            }
            default { error "when $event: unknown option $option" }
        }
    }
    lappend handlers [list $priority [llength $handlers] $event $body]
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
        # What a device does for a pool named through a variable that does not exist: a run-time
        # error (clouddocs.f5.com "Intermediate iRules: catch").
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

# HEADERS: flat list of name value, in request order (a Host header is one of them).
proc ::f5::http_request {uri headers version} {
    variable request [dict create uri $uri headers $headers version $version]
    variable actions {}
    variable logged {}
    variable lookups [dict create calls 0 chars 0]
    variable down
    if {[llength $headers] % 2} {
        error "http_request: header name without a value"
    }
    fresh_child
    fire HTTP_REQUEST
    if {[llength $actions] > 1} {
        error "HTTP_REQUEST made [llength $actions] decisions, the shim cannot say which wins: $actions"
    }
    set decision [lindex $actions 0]
    # LB_FAILED (clouddocs.f5.com/api/irules/LB_FAILED.html): no pool chosen (the shared virtual
    # servers have no default pool), no member up, or the node does not answer.
    switch -- [lindex $decision 0] {
        respond { return $actions }
        pool { set failed [expr {[lindex $decision 1] in $down ? "no member of [lindex $decision 1] is up" : ""}] }
        node { set failed [expr {[lindex $decision 1] in $down ? "node [lindex $decision 1] does not answer" : ""}] }
        "" { set failed "no pool selected" }
    }
    if {$failed eq ""} {
        return $actions
    }
    lappend actions [list lb_failed $failed]
    if {![has_handler LB_FAILED]} {
        lappend actions [list reset "LB_FAILED ($failed) and no LB_FAILED handler"]
        return $actions
    }
    set before [llength $actions]
    fire LB_FAILED
    if {[llength $actions] == $before} {
        lappend actions [list reset "LB_FAILED ($failed) and the handler decided nothing"]
    }
    return $actions
}

proc ::f5::header_values {name} {
    variable request
    set values {}
    foreach {key value} [dict get $request headers] {
        if {[string equal -nocase $key $name]} {
            lappend values $value
        }
    }
    return $values
}

# The value of the last Host header, and never the host of an absolute-form URI
# (clouddocs.f5.com/api/irules/HTTP__host.html).
proc ::f5::cmd_HTTP_host {args} {
    if {[llength $args]} {
        error "HTTP::host: the shim does not rewrite the host"
    }
    return [lindex [header_values Host] end]
}

proc ::f5::cmd_HTTP_uri {args} {
    variable request
    if {[llength $args]} {
        error "HTTP::uri: the shim does not rewrite the URI"
    }
    return [dict get $request uri]
}

# Up to the "?" of the request target, whatever its form: for an absolute-form target that is
# the whole URI with scheme and host (AskF5 SOL9952, K9952).
proc ::f5::cmd_HTTP_path {args} {
    variable request
    if {[llength $args]} {
        error "HTTP::path: the shim does not rewrite the path"
    }
    return [lindex [split [dict get $request uri] "?"] 0]
}

proc ::f5::cmd_HTTP_query {} {
    variable request
    set uri [dict get $request uri]
    set mark [string first "?" $uri]
    return [expr {$mark < 0 ? "" : [string range $uri [expr {$mark + 1}] end]}]
}

proc ::f5::cmd_HTTP_version {} {
    variable request
    return [dict get $request version]
}

# HTTP::header [value] NAME | values NAME | count ?NAME? | exists NAME | names: read-only forms
# (clouddocs.f5.com/api/irules/HTTP__header.html); value acts on the last header of the name.
proc ::f5::cmd_HTTP_header {sub args} {
    variable request
    switch -- $sub {
        value { return [lindex [header_values [lindex $args 0]] end] }
        values { return [header_values [lindex $args 0]] }
        count {
            if {![llength $args]} {
                return [expr {[llength [dict get $request headers]] / 2}]
            }
            return [llength [header_values [lindex $args 0]]]
        }
        exists { return [expr {[llength [header_values [lindex $args 0]]] > 0}] }
        names {
            set names {}
            foreach {key value} [dict get $request headers] {
                lappend names $key
            }
            return $names
        }
        insert - replace - remove - lws - at - sanitize - insert_modssl_fields {
            error "HTTP::header $sub: not in the shim"
        }
        default {
            if {[llength $args]} {
                error "HTTP::header: the shim does not rewrite headers"
            }
            return [lindex [header_values $sub] end]
        }
    }
}

# HTTP::respond STATUS ?-version 1.0|1.1|auto? ?content BODY? ?noserver? ?NAME VALUE?...
# (clouddocs.f5.com/api/irules/HTTP__respond.html): HTTP/1.0 unless -version says otherwise,
# and a "Server: BIG-IP" header unless noserver. Valid in HTTP_REQUEST and LB_FAILED here.
proc ::f5::cmd_HTTP_respond {status args} {
    variable actions
    variable request
    variable event
    if {$event ni {HTTP_REQUEST LB_FAILED}} {
        error "HTTP::respond in $event: not modelled by the shim"
    }
    if {![string is digit -strict $status] || $status < 100 || $status > 599} {
        error "HTTP::respond: \"$status\" is not a status code"
    }
    set version 1.0
    if {[lindex $args 0] eq "-version"} {
        set version [lindex $args 1]
        set args [lrange $args 2 end]
        switch -- $version {
            1.0 - 1.1 {}
            auto { set version [dict get $request version] }
            default { error "HTTP::respond -version: \"$version\" is not 1.0, 1.1 or auto" }
        }
    }
    set body ""
    if {[lindex $args 0] eq "content"} {
        set body [lindex $args 1]
        set args [lrange $args 2 end]
    }
    set headers {}
    if {[lindex $args 0] eq "noserver"} {
        set args [lrange $args 1 end]
    } else {
        lappend headers Server BIG-IP
    }
    if {[llength $args] % 2} {
        error "HTTP::respond: header name without a value"
    }
    foreach {name value} $args {
        lappend headers $name $value
    }
    lappend actions [list respond $status $version $body $headers]
    return
}

# --------------------------------------------------------------------------- DNS

# K14510 (BIG-IP DNS query processing order): the listener's iRule (DNS_REQUEST), then GTM wide
# IPs, then DNS Express, then the unhandled-query action; DNS_RESPONSE sees whatever answers.
# The listener of the controller has no pool and the harness no BIND, so the action "allow"
# finds nothing to pass the query to and drops it, as does "drop": the client times out.
proc ::f5::dns_request {name type class} {
    variable request [dict create name $name type [string toupper $type] class [string toupper $class]]
    variable actions {}
    variable logged {}
    variable lookups [dict create calls 0 chars 0]
    variable wideips
    variable dnsx
    variable profile_last_act
    variable dns [dict create \
        header [dict create id 4711 qr 0 opcode QUERY aa 0 tc 0 rd 1 ra 0 ad 0 cd 0 rcode NOERROR] \
        answer {} authority {} additional {} origin CLIENT returned 0 last_act $profile_last_act]
    fresh_child
    fire DNS_REQUEST
    set key [string tolower [string trimright $name .]]
    if {[dict get $dns returned]} {
        # the rule answers itself
    } elseif {[dict get $request class] eq "IN" && [dict exists $wideips $key]} {
        dict set dns origin GTM_BUILD
        dict set dns header aa 1
        if {[dict get $request type] eq "A"} {
            foreach addr [dict get $wideips $key] {
                dict lappend dns answer [check_rr "[string trimright $name .]. 30 IN A $addr"]
            }
        }
    } elseif {[dict exists $dnsx $key]} {
        lassign [dict get $dnsx $key] rcode records
        dict set dns origin DNSX
        dict set dns header aa 1
        dict set dns header rcode $rcode
        foreach rr $records {
            dict lappend dns answer [check_rr $rr]
        }
    } else {
        switch -- [dict get $dns last_act] {
            allow - drop {
                return [dict create dropped 1 rcode "" aa 0 answers {} authority {} origin ""]
            }
            reject {
                dict set dns origin LAST_ACTION
                dict set dns header rcode REFUSED
            }
            noerror {
                dict set dns origin LAST_ACTION
            }
            hint { error "DNS::last_act hint: root hints are not in the shim" }
        }
    }
    dict set dns header qr 1
    dict set dns returned 0
    fire DNS_RESPONSE 0
    return [dict create dropped 0 rcode [dict get $dns header rcode] \
        aa [dict get $dns header aa] answers [dict get $dns answer] \
        authority [dict get $dns authority] origin [dict get $dns origin]]
}

proc ::f5::modified {} {
    variable dns
    # "TCL: An iRule modified the DNS response" (clouddocs.f5.com/api/irules/DNS__origin.html)
    dict set dns origin TCL
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

proc ::f5::check_name {name what} {
    if {[string index $name end] ne "." || [regexp {\s} $name]} {
        error "DNS::rr: $what \"$name\" is not a fully qualified name (no trailing dot)"
    }
}

proc ::f5::check_u32 {value what} {
    if {![string is digit -strict $value] || $value > 4294967295} {
        error "DNS::rr: bad $what \"$value\""
    }
}

# Validates one resource record in zone-file form and returns it with single spaces.
proc ::f5::check_rr {text} {
    set words [regexp -all -inline {\S+} $text]
    if {[llength $words] < 5} {
        error "DNS::rr: \"$text\" is not NAME TTL CLASS TYPE RDATA"
    }
    lassign $words name ttl class type
    set rdata [lrange $words 4 end]
    check_name $name owner
    if {![string is digit -strict $ttl] || $ttl > 2147483647} {
        error "DNS::rr: bad TTL \"$ttl\""
    }
    if {$class ne "IN"} {
        error "DNS::rr: class \"$class\" is not IN"
    }
    switch -- $type {
        A - AAAA {
            if {[llength $rdata] != 1} {
                error "DNS::rr: \"$text\" has more than one address"
            }
            set addr [lindex $rdata 0]
            if {$type eq "A" ? ![is_ipv4 $addr] : (![is_ipv6 $addr] || [is_ipv4 $addr])} {
                error "DNS::rr: \"$addr\" is not valid $type data"
            }
        }
        SOA {
            # MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM (RFC 1035 3.3.13)
            if {[llength $rdata] != 7} {
                error "DNS::rr: SOA \"$text\" needs MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM"
            }
            check_name [lindex $rdata 0] MNAME
            check_name [lindex $rdata 1] RNAME
            foreach value [lrange $rdata 2 end] what {SERIAL REFRESH RETRY EXPIRE MINIMUM} {
                check_u32 $value $what
            }
        }
        default { error "DNS::rr: the shim knows A, AAAA and SOA only, not \"$type\"" }
    }
    return [join $words " "]
}

proc ::f5::cmd_DNS_rr {args} {
    if {[llength $args] != 1} {
        error "DNS::rr: the shim supports the one-string form only"
    }
    return [check_rr [lindex $args 0]]
}

proc ::f5::section {section sub args} {
    variable dns
    switch -- $sub {
        insert {
            if {[llength $args] != 1} {
                error "DNS::$section insert: wrong number of arguments"
            }
            dict lappend dns $section [check_rr [lindex $args 0]]
            modified
        }
        clear {
            dict set dns $section {}
            modified
        }
        "" { return [dict get $dns $section] }
        default { error "DNS::$section: subcommand \"$sub\" is not in the shim" }
    }
    return
}

proc ::f5::cmd_DNS_answer {{sub ""} args} {
    return [section answer $sub {*}$args]
}

proc ::f5::cmd_DNS_authority {{sub ""} args} {
    return [section authority $sub {*}$args]
}

proc ::f5::cmd_DNS_additional {{sub ""} args} {
    return [section additional $sub {*}$args]
}

# DNS::header FIELD ?VALUE? (clouddocs.f5.com/api/irules/DNS__header.html): bits and rcode can
# be read and set; the counts are read from the sections.
proc ::f5::cmd_DNS_header {field args} {
    variable dns
    set rcodes {NOERROR FORMERR SERVFAIL NXDOMAIN NOTIMPL REFUSED YXDOMAIN YXRRSET NXRRSET
        NOTAUTH NOTZONE}
    switch -- $field {
        qdcount { return 1 }
        ancount { return [llength [dict get $dns answer]] }
        nscount { return [llength [dict get $dns authority]] }
        arcount { return [llength [dict get $dns additional]] }
    }
    if {$field ni {id qr opcode aa tc rd ra ad cd rcode}} {
        error "DNS::header: unknown field \"$field\""
    }
    if {[llength $args] == 0} {
        return [dict get $dns header $field]
    }
    if {[llength $args] > 1} {
        error "DNS::header $field: wrong number of arguments"
    }
    set value [lindex $args 0]
    switch -- $field {
        rcode {
            set value [string toupper $value]
            if {$value ni $rcodes} {
                error "DNS::header rcode: unknown code \"[lindex $args 0]\""
            }
        }
        opcode - id { error "DNS::header $field: the shim does not rewrite it" }
        default {
            if {![string is boolean -strict $value]} {
                error "DNS::header $field: \"$value\" is not a boolean"
            }
            set value [expr {$value ? 1 : 0}]
        }
    }
    dict set dns header $field $value
    modified
    return
}

proc ::f5::cmd_DNS_return {} {
    variable dns
    variable event
    if {$event ne "DNS_REQUEST"} {
        # In DNS_RESPONSE, DNS::return sends the query back for resolution again
        # (clouddocs.f5.com/api/irules/DNS__return.html): not modelled.
        error "DNS::return in $event: not modelled by the shim"
    }
    dict set dns returned 1
    return
}

proc ::f5::cmd_DNS_origin {} {
    variable dns
    return [dict get $dns origin]
}

proc ::f5::check_last_act {value} {
    if {$value ni {allow drop reject hint noerror}} {
        error "DNS::last_act: \"$value\" is not allow, drop, reject, hint or noerror"
    }
}

# Sets the unhandled-query action of this query (clouddocs.f5.com: DNS::last_act).
proc ::f5::cmd_DNS_last_act {value} {
    variable dns
    check_last_act $value
    dict set dns last_act $value
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
