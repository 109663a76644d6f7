# cmake -DCERTSWAP=<binary> -DOUT=<file> -P ManCommands.cmake: a help2man
# --include file with one COMMANDS subsection per subcommand, from
# `certswap <command> --help`, so the man page documents every command's flags.
execute_process(COMMAND ${CERTSWAP} --help OUTPUT_VARIABLE _top RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "${CERTSWAP} --help failed")
endif()
# The "Subcommands:" list of the top-level help: two-space indented names.
string(REGEX MATCH "Subcommands:\n.*" _list "${_top}")
string(REGEX MATCHALL "\n  [a-z][a-z-]*" _names "${_list}")
set(_text "[COMMANDS]\n")
foreach(_name IN LISTS _names)
  string(STRIP "${_name}" _name)
  execute_process(COMMAND ${CERTSWAP} ${_name} --help OUTPUT_VARIABLE _help RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "${CERTSWAP} ${_name} --help failed")
  endif()
  string(REPLACE "Usage: ${CERTSWAP} " "Usage: certswap " _help "${_help}")
  # roff: a backslash is \e; a line may not start with . or '.
  string(REPLACE "\\" "\\e" _help "${_help}")
  string(REGEX REPLACE "\n([.'])" "\n\\\\&\\1" _help "${_help}")
  string(APPEND _text ".SS ${_name}\n.nf\n${_help}.fi\n")
endforeach()
file(WRITE ${OUT} "${_text}")
