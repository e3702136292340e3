# Runs a generated Vitis HLS / Vivado script in plain tclsh, with a stub for every vendor command
# the flow may use. Each stub checks its options (unknown option, missing required option or
# argument is an error), appends one line per call to $GRACE_STUB_RECORD, and imitates the files
# the real command leaves behind (reports copied from $GRACE_FIXTURES when set, else
# placeholders). A command without a stub is an error, so a script cannot use a vendor command
# these tests do not know.
#
#   tclsh tcl_stubs.tcl <script.tcl>
# Environment: GRACE_STUB_RECORD (record file), GRACE_FIXTURES (vendor fixture folder),
#   GRACE_STUB_FAIL=<command> (that command fails), GRACE_STUB_SKIP=<command> (writes nothing).

set ::state [dict create project "" project_dir "" bd "" solution "" cells {} launched {}]

proc env_or {name default} {
    if {[info exists ::env($name)]} { return $::env($name) }
    return $default
}

# One record line: command, then -option=value, -flag and positional words, tab separated.
proc record {name words} {
    set path [env_or GRACE_STUB_RECORD ""]
    if {$path eq ""} { return }
    set handle [open $path a]
    puts $handle [join [concat [list $name] [string map {"\n" " " "\t" " "} $words]] "\t"]
    close $handle
}

# Parse and check a call; returns {options positional}.
proc call {name arguments} {
    lassign $::spec($name) valued flags required npos
    set opts [dict create]
    set pos {}
    set words {}
    for {set i 0} {$i < [llength $arguments]} {incr i} {
        set arg [lindex $arguments $i]
        if {[string index $arg 0] eq "-" && ![string is double -strict $arg]} {
            set value ""
            set key $arg
            if {[regexp {^(-[^=]+)=(.*)$} $arg -> key value]} {
                if {$key ni $valued} { error "$name: option $key takes no value" }
            } elseif {$key in $valued} {
                if {$i + 1 >= [llength $arguments]} { error "$name: option $key needs a value" }
                set value [lindex $arguments [incr i]]
            } elseif {$key ni $flags} {
                error "$name: unknown option $key"
            }
            dict set opts $key $value
            lappend words [expr {$key in $flags ? $key : "$key=$value"}]
        } else {
            lappend pos $arg
            lappend words $arg
        }
    }
    foreach key $required {
        if {![dict exists $opts $key] || [string trim [dict get $opts $key]] eq ""} {
            error "$name: missing required option $key"
        }
    }
    lassign $npos low high
    if {[llength $pos] < $low || ($high ne "*" && [llength $pos] > $high)} {
        error "$name: expected $low..$high arguments, got [llength $pos]"
    }
    record $name $words
    if {[env_or GRACE_STUB_FAIL ""] eq $name} {
        error "ERROR: \[Stub 1-1\] $name failed (GRACE_STUB_FAIL)"
    }
    return [list $opts $pos]
}

# stub <name> <valued options> <flags> <required options> {<min> <max>} <body>
# The body sees `opts` (dict) and `pos` (list) and returns the command's result.
proc stub {name valued flags required npos body} {
    set ::spec($name) [list $valued $flags $required $npos]
    set body [string map [list @NAME@ $name] $body]
    proc $name args [string map [list @NAME@ $name @BODY@ $body] {
        lassign [call @NAME@ $args] opts pos
        @BODY@
    }]
}

proc skipped {name} { expr {[env_or GRACE_STUB_SKIP ""] eq $name} }

# Write `path` from fixture `relative` (or a placeholder) unless the command is skipped.
proc emit {name path relative} {
    if {[skipped $name]} { return }
    file mkdir [file dirname $path]
    set fixtures [env_or GRACE_FIXTURES ""]
    if {$fixtures ne "" && $relative ne ""} {
        file copy -force [file join $fixtures $relative] $path
    } else {
        set handle [open $path w]
        puts $handle "stub output of $name"
        close $handle
    }
}

proc need_cell {name cell} {
    if {$cell ni [dict get $::state cells]} { error "$name: no block-design cell '$cell' yet" }
}

# The cell of a block-design path such as /conv/m_axi_gmem or conv/s_axi_control.
proc cell_of {path} { lindex [split [string trimleft $path /] /] 0 }

# ---- Vitis HLS -------------------------------------------------------------------------------

stub open_project {} {-reset} {} {1 1} {
    dict set ::state project [lindex $pos 0]
    file mkdir [lindex $pos 0]
}
stub set_top {} {} {} {1 1} {}
stub add_files {-cflags -csimflags -fileset} {-tb -norecurse} {} {1 *} {
    foreach path $pos {
        if {![file exists $path]} { error "add_files: no such file $path" }
    }
}
stub open_solution {-flow_target} {-reset} {} {1 1} {
    if {[dict get $::state project] eq ""} { error "open_solution: no open project" }
    dict set ::state solution [lindex $pos 0]
}
stub set_part {} {} {} {1 1} {
    if {![regexp {^x[a-z0-9-]+$} [lindex $pos 0]]} { error "set_part: bad part [lindex $pos 0]" }
}
stub create_clock {-period -name} {} {-period} {0 0} {
    if {![string is double -strict [dict get $opts -period]] || [dict get $opts -period] <= 0} {
        error "create_clock: bad period [dict get $opts -period]"
    }
}
stub config_interface {-m_axi_addr64 -m_axi_alignment_byte_size -m_axi_max_widen_bitwidth} {} \
    {} {0 0} {}
stub csynth_design {} {} {} {0 0} {
    set solution [file join [dict get $::state project] [dict get $::state solution]]
    emit csynth_design [file join $solution syn report csynth.xml] \
        csynth/pynqz2_axil_conv2d.csynth.xml
}
stub export_design {-format -rtl -vendor -library -ipname -version -description -display_name \
    -output -flow} {} {-format} {0 0} {
    set solution [file join [dict get $::state project] [dict get $::state solution]]
    if {![file exists [file join $solution syn report csynth.xml]] && ![skipped csynth_design]} {
        error "export_design: run csynth_design first"
    }
    emit export_design [file join $solution impl ip component.xml] ""
}

# ---- Vivado ----------------------------------------------------------------------------------

stub create_project {-part} {-force} {-part} {2 2} {
    lassign $pos name dir
    dict set ::state project $name
    dict set ::state project_dir [file normalize $dir]
    file mkdir $dir
}
stub current_project {} {} {} {0 1} { dict get $::state project }
stub current_fileset {} {} {} {0 1} { return sources_1 }
stub set_property {-dict} {} {} {1 3} {
    if {[dict exists $opts -dict] != ([llength $pos] == 1)} {
        error "set_property: give either -dict <list> <objects> or <name> <value> <objects>"
    }
}
stub update_ip_catalog {} {} {} {0 0} {}
stub create_bd_design {} {} {} {1 1} { dict set ::state bd [lindex $pos 0] }
stub create_bd_cell {-type -vlnv} {} {-type} {1 1} {
    if {[dict get $opts -type] eq "ip" && ![dict exists $opts -vlnv]} {
        error "create_bd_cell: -type ip needs -vlnv"
    }
    dict lappend ::state cells [lindex $pos 0]
    return "/[lindex $pos 0]"
}
stub apply_bd_automation {-rule -config} {} {-rule} {1 1} {
    if {[dict get $opts -rule] eq "xilinx.com:bd_rule:axi4"} {
        set config [dict get $opts -config]
        foreach end {Master Slave} {
            need_cell apply_bd_automation [cell_of [dict get $config $end]]
        }
    }
}
foreach getter {get_bd_cells get_bd_pins get_bd_intf_pins} {
    stub $getter {} {} {} {1 *} {
        foreach path $pos { need_cell @NAME@ [cell_of $path] }
        return [lmap path $pos { string cat / [string trimleft $path /] }]
    }
}
stub connect_bd_net {} {} {} {2 *} {}
stub connect_bd_intf_net {} {} {} {2 2} {}
stub assign_bd_address {} {} {} {0 0} {}
stub validate_bd_design {} {} {} {0 0} {}
stub save_bd_design {} {} {} {0 0} {}
stub get_files {-of_objects} {-all} {} {0 *} { return $pos }
stub make_wrapper {-files} {-top} {-files} {0 0} {
    set bd [dict get $::state bd]
    set wrapper [file join [dict get $::state project_dir] hdl ${bd}_wrapper.v]
    emit make_wrapper $wrapper ""
    return $wrapper
}
stub get_runs {} {} {} {1 1} { return [lindex $pos 0] }
stub launch_runs {-jobs -to_step} {} {} {1 *} {
    set bd [dict get $::state bd]
    set dir [dict get $::state project_dir]
    set project [dict get $::state project]
    foreach run $pos {
        dict lappend ::state launched $run
        if {$run eq "synth_1"} {
            emit launch_runs [file join $dir $project.gen sources_1 bd $bd hw_handoff $bd.hwh] \
                hwh/pynqz2_axil_conv2d.hwh
        } elseif {[dict exists $opts -to_step] && [dict get $opts -to_step] eq "write_bitstream"} {
            emit launch_runs [file join $dir $project.runs $run ${bd}_wrapper.bit] ""
        }
    }
}
stub wait_on_run {} {} {} {1 1} {}
stub get_property {} {} {} {2 2} {
    lassign $pos property object
    switch $property {
        DIRECTORY {
            set dir [dict get $::state project_dir]
            if {$object eq [dict get $::state project]} { return $dir }
            return [file join $dir [dict get $::state project].runs $object]
        }
        PROGRESS {
            return [expr {$object in [dict get $::state launched] ? "100%" : "0%"}]
        }
        default { error "get_property: the stub knows no property $property" }
    }
}
stub open_run {} {} {} {1 1} {
    if {[lindex $pos 0] ni [dict get $::state launched]} { error "open_run: run not launched" }
}
stub report_utilization {-file} {} {-file} {0 0} {
    emit report_utilization [dict get $opts -file] vivado/pynqz2_axil_conv2d_utilization_placed.rpt
}
stub report_timing_summary {-file} {} {-file} {0 0} {
    emit report_timing_summary [dict get $opts -file] \
        vivado/pynqz2_axil_conv2d_timing_summary_routed.rpt
}
stub report_power {-file} {} {-file} {0 0} {
    emit report_power [dict get $opts -file] vivado/pynqz2_axil_conv2d_power_routed.rpt
}

# ---- Tcl itself ------------------------------------------------------------------------------

proc unknown {args} { error "no stub for vendor command '[lindex $args 0]'" }
rename exit __exit
stub exit {} {} {} {0 1} { __exit [lindex [concat $pos 0] 0] }

if {[catch {source [lindex $argv 0]} message]} {
    puts "ERROR: [string map {"ERROR: " ""} $message]"
    __exit 1
}
