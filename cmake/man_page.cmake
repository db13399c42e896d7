# Writes OUT (roff, hyperion(1)) from what the built binary prints for --help,
# --version and, for each subcommand its usage names (`hyperion ctl ...`),
# `hyperion SUB --help`; so the man page says what the usage text
# (src/config/cli.cpp) says. EXTRA, hand-written roff (signals, environment,
# files), is appended. Run as
#   cmake -DHYPERION=path/to/hyperion -DEXTRA=packaging/man/sections.roff -DOUT=hyperion.1 -P man_page.cmake
#
# The shape of a help text, which this relies on (anything else stops the build,
# so a new kind of line is noticed rather than garbled):
#   Usage: hyperion [options] [rackup]     (a remark in parentheses)
#          hyperion ctl COMMAND [options]  (more usage lines, indented under the first)
#   A heading at column 0
#     -w, --workers N            the description from column 29 (or after two spaces
#     phased-restart             when the term is longer), continued on lines indented
#                                that far; a term is an option or a command word
#   (a blank line ends a group)
foreach(var HYPERION EXTRA OUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "man_page.cmake: -D${var}=... is required")
  endif()
endforeach()

function(run_binary out)
  execute_process(COMMAND ${HYPERION} ${ARGN} OUTPUT_VARIABLE text RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "man_page.cmake: `${HYPERION} ${ARGN}` failed (${status})")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# CMake lists split on ';' and treat brackets specially; help texts have both.
# They travel as placeholders until escape_roff() puts them back.
function(to_lines text out)
  string(REPLACE ";" "<SEMI>" text "${text}")
  string(REPLACE "[" "<LBR>" text "${text}")
  string(REPLACE "]" "<RBR>" text "${text}")
  string(REPLACE "\n" ";" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# Text as roff: backslashes and hyphens escaped (options copy and paste as
# ASCII), a leading '.' or "'" neutralised.
function(escape_roff text out)
  string(REPLACE "\\" "\\e" text "${text}")
  string(REPLACE "-" "\\-" text "${text}")
  string(REGEX REPLACE "^([.'])" "\\\\&\\1" text "${text}")
  string(REPLACE "<SEMI>" ";" text "${text}")
  string(REPLACE "<LBR>" "[" text "${text}")
  string(REPLACE "<RBR>" "]" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# "-w, --workers N" as "\fB\-w\fR, \fB\-\-workers\fR \fIN\fR"; a command word in bold.
function(term_roff spec out)
  set(flags "${spec}")
  set(arg "")
  if(spec MATCHES "^(.*[^ ]) ([A-Z][A-Z0-9=,_]*)$")
    set(flags "${CMAKE_MATCH_1}")
    set(arg "${CMAKE_MATCH_2}")
  endif()
  string(REPLACE ", " ";" flag_list "${flags}")
  set(text "")
  foreach(flag IN LISTS flag_list)
    escape_roff("${flag}" flag)
    if(NOT text STREQUAL "")
      string(APPEND text ", ")
    endif()
    string(APPEND text "\\fB${flag}\\fR")
  endforeach()
  if(NOT arg STREQUAL "")  # not if(arg): "N" is false to CMake
    escape_roff("${arg}" arg)
    string(APPEND text " \\fI${arg}\\fR")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# A usage line's words: [optional] and METAVAR in italics, the rest in bold.
function(synopsis_roff words out)
  string(REPLACE " " ";" words "${words}")
  set(text "")
  foreach(word IN LISTS words)
    if(word MATCHES "^<LBR>(.*)<RBR>$")
      escape_roff("${CMAKE_MATCH_1}" inner)
      string(APPEND text " [\\fI${inner}\\fR]")
    elseif(word MATCHES "^[A-Z][A-Z0-9_]*$")
      string(APPEND text " \\fI${word}\\fR")
    elseif(NOT word STREQUAL "")
      escape_roff("${word}" word)
      string(APPEND text " \\fB${word}\\fR")
    endif()
  endforeach()
  string(STRIP "${text}" text)
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# Parses one help text. Sets <prefix>_ROFF (its groups as .SS/.TP roff),
# <prefix>_COUNT (terms seen), <prefix>_USAGE (a list of usage lines, the words
# after "hyperion") and <prefix>_REMARK (the first usage line's remark).
function(parse_help text prefix)
  set(term_re "(-[A-Za-z0-9], )?--?[A-Za-z0-9][A-Za-z0-9-]*( [A-Z][A-Z0-9=,_]*)?|[a-z][a-z0-9-]*")
  set(roff "")
  set(usage "")
  set(remark "")
  set(in_group FALSE)
  set(in_usage FALSE)
  set(count 0)
  to_lines("${text}" lines)
  foreach(line IN LISTS lines)
    set(term "")
    set(words "")
    if(line MATCHES "^Usage: hyperion (.*)$")
      set(words "${CMAKE_MATCH_1}")
    elseif(in_usage AND line MATCHES "^       hyperion (.*)$")
      set(words "${CMAKE_MATCH_1}")
    endif()
    if(NOT words STREQUAL "")
      set(in_usage TRUE)
      if(words MATCHES "^(.*[^ ])  +\\((.*)\\)$")
        set(words "${CMAKE_MATCH_1}")
        if(remark STREQUAL "")
          set(remark "${CMAKE_MATCH_2}")
        endif()
      endif()
      list(APPEND usage "${words}")
      continue()
    endif()
    set(in_usage FALSE)
    if(line STREQUAL "")
      set(in_group FALSE)
    elseif(line MATCHES "^[^ ]")
      escape_roff("${line}" heading)
      string(REPLACE "\"" "\\(dq" heading "${heading}")
      string(APPEND roff ".SS \"${heading}\"\n")
      set(in_group TRUE)
    elseif(line MATCHES "^                    +([^ ].*)$")
      escape_roff("${CMAKE_MATCH_1}" continued)
      string(APPEND roff "${continued}\n")
    elseif(line MATCHES "^( +)(${term_re})  +([^ ].*)$")
      set(term "${CMAKE_MATCH_2}")
      set(description "${CMAKE_MATCH_5}")
    elseif(line MATCHES "^( +)(${term_re}) ([^ ].*)$")
      # One space only: fine when the description starts in its column (29).
      string(LENGTH "${CMAKE_MATCH_1}${CMAKE_MATCH_2} " column)
      if(NOT column EQUAL 29)
        message(FATAL_ERROR "man_page.cmake: cannot tell the term from its description in '${line}'")
      endif()
      set(term "${CMAKE_MATCH_2}")
      set(description "${CMAKE_MATCH_5}")
    else()
      message(FATAL_ERROR "man_page.cmake: a help line of unknown shape: '${line}'")
    endif()
    if(NOT term STREQUAL "")
      if(NOT in_group)
        string(APPEND roff ".SS \"General\"\n")
        set(in_group TRUE)
      endif()
      term_roff("${term}" term)
      escape_roff("${description}" description)
      string(APPEND roff ".TP\n${term}\n${description}\n")
      math(EXPR count "${count} + 1")
    endif()
  endforeach()
  set(${prefix}_ROFF "${roff}" PARENT_SCOPE)
  set(${prefix}_COUNT ${count} PARENT_SCOPE)
  set(${prefix}_USAGE "${usage}" PARENT_SCOPE)
  set(${prefix}_REMARK "${remark}" PARENT_SCOPE)
endfunction()

run_binary(version_line --version)
if(NOT version_line MATCHES "^hyperion ([0-9][^ \n]*)\n?$")
  message(FATAL_ERROR "man_page.cmake: unexpected --version output '${version_line}'")
endif()
set(version ${CMAKE_MATCH_1})

run_binary(help --help)
parse_help("${help}" MAIN)
if(MAIN_USAGE STREQUAL "" OR MAIN_COUNT LESS 10)
  message(FATAL_ERROR "man_page.cmake: --help had no usage line or almost no options (${MAIN_COUNT})")
endif()

set(synopsis "")
set(subcommands "")
foreach(words IN LISTS MAIN_USAGE)
  synopsis_roff("${words}" line)
  string(APPEND synopsis ".br\n.B hyperion\n${line}\n")
  # `hyperion ctl COMMAND ...`: the subcommand has a help text of its own.
  if(words MATCHES "^([a-z][a-z0-9-]*)( |$)")
    set(sub ${CMAKE_MATCH_1})
    run_binary(sub_help ${sub} --help)
    parse_help("${sub_help}" SUB)
    string(TOUPPER "${sub}" title)
    string(APPEND subcommands ".SH \"HYPERION ${title}\"\nAs \\fBhyperion ${sub} \\-\\-help\\fR prints them:\n${SUB_ROFF}")
  endif()
endforeach()
string(REGEX REPLACE "^\\.br\n" "" synopsis "${synopsis}")
if(MAIN_REMARK STREQUAL "")
  set(rackup_remark "")
else()
  escape_roff(" (${MAIN_REMARK})" rackup_remark)
endif()

# SOURCE_DATE_EPOCH, when set, makes the date (and so the page) reproducible.
string(TIMESTAMP date "%Y-%m-%d" UTC)
file(READ ${EXTRA} extra)
file(WRITE ${OUT}.tmp
".\\\" Generated by cmake/man_page.cmake from `hyperion --help`; do not edit.
.TH HYPERION 1 \"${date}\" \"hyperion ${version}\" \"User Commands\"
.SH NAME
hyperion \\- a prefork Rack web server for Ruby
.SH SYNOPSIS
${synopsis}.SH DESCRIPTION
.B hyperion
serves a Rack application (Rack 2 or 3: a plain lambda, Sinatra, Rails) over
HTTP/1.1, HTTP/2 and WebSocket, with or without TLS. Sockets, HTTP parsing,
limits, timeouts, static files and response writing are done in C++; an
embedded Ruby VM is entered only to call the app. With \\fB\\-w\\fR \\fIN\\fR a
master process forks \\fIN\\fR workers, each with its own event loop and
\\fB\\-t\\fR Ruby threads; with \\fB\\-w 0\\fR one process serves alone.
.PP
The \\fIrackup\\fR file is loaded with Rack::Builder${rackup_remark}.
Settings can also come from a Ruby config file (\\fB\\-C\\fR); flags given on
the command line win.
.PP
Durations accept 30, 30s, 500ms, 2m; sizes 65536, 64k, 1m, 1g.
.SH OPTIONS
${MAIN_ROFF}${subcommands}${extra}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
