# Writes OUT (revision.h) with the source tree's git revision ("+dirty" with uncommitted
# changes), rewriting it only when it changes. Outside a git checkout (a container
# build) the environment's ACTGRID_REVISION says it, else "unknown".
execute_process(COMMAND git -C ${SOURCE_DIR} rev-parse --short=12 HEAD
                OUTPUT_VARIABLE rev OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR rev STREQUAL "")
  if(NOT "$ENV{ACTGRID_REVISION}" STREQUAL "" AND "$ENV{ACTGRID_REVISION}" MATCHES "^[0-9A-Za-z._+-]+$")
    set(rev "$ENV{ACTGRID_REVISION}")
  else()
    set(rev "unknown")
  endif()
else()
  execute_process(COMMAND git -C ${SOURCE_DIR} status --porcelain --untracked-files=no
                  OUTPUT_VARIABLE dirty OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(NOT dirty STREQUAL "")
    set(rev "${rev}+dirty")
  endif()
endif()
set(text "#define ACTGRID_REVISION \"${rev}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT old STREQUAL text)
  file(WRITE ${OUT} "${text}")
endif()
