# Manual pages and the bash completion script, generated at build time by the built programs
# from their own CLI11 definitions, so that they never drift from the flags:
#   build/man/man1/berth*.1    `berth __man DIR` (one page per command, git-style names)
#   build/man/man8/berthd.8    `berthd --generate-man DIR` (parses its flags, starts nothing)
#   build/completion/berth     `berth completion bash`
set(BERTH_MAN_DIR ${CMAKE_BINARY_DIR}/man)
set(BERTH_COMPLETION_DIR ${CMAKE_BINARY_DIR}/completion)

# A stamp, not the page list: the set of pages follows the commands. The directory is emptied
# first so that a removed command leaves no page behind.
add_custom_command(
  OUTPUT ${BERTH_MAN_DIR}/man1.stamp
  COMMAND ${CMAKE_COMMAND} -E rm -rf ${BERTH_MAN_DIR}/man1
  COMMAND $<TARGET_FILE:berth> __man ${BERTH_MAN_DIR}/man1
  COMMAND ${CMAKE_COMMAND} -E touch ${BERTH_MAN_DIR}/man1.stamp
  DEPENDS berth
  COMMENT "Generating the berth manual pages"
  VERBATIM)
add_custom_command(
  OUTPUT ${BERTH_MAN_DIR}/man8/berthd.8
  COMMAND $<TARGET_FILE:berthd> --generate-man ${BERTH_MAN_DIR}/man8
  DEPENDS berthd
  COMMENT "Generating the berthd manual page"
  VERBATIM)
add_custom_command(
  OUTPUT ${BERTH_COMPLETION_DIR}/berth
  COMMAND ${CMAKE_COMMAND} -E make_directory ${BERTH_COMPLETION_DIR}
  COMMAND sh -c "\"$1\" completion bash > \"$2\"" sh $<TARGET_FILE:berth> ${BERTH_COMPLETION_DIR}/berth
  DEPENDS berth
  COMMENT "Generating the berth bash completion"
  VERBATIM)
add_custom_target(berth-docs ALL
  DEPENDS ${BERTH_MAN_DIR}/man1.stamp ${BERTH_MAN_DIR}/man8/berthd.8 ${BERTH_COMPLETION_DIR}/berth)
