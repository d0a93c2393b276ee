# `make install` / `cmake --install BUILD [--prefix P]` (DESTDIR honoured): everything a node
# needs to run berthd from PREFIX.
#   PREFIX/bin            berth, berthd and the programs berthd finds next to itself
#                         (berth-shim, berth-init), berth-runtime
#   PREFIX/share/man      man1/berth*.1, man8/berthd.8 (cmake/BerthManPages.cmake)
#   PREFIX/share/bash-completion/completions/berth
#   PREFIX/lib/systemd/system/berthd.service   deploy/berthd.service, ExecStart under PREFIX
#   /etc/berth/berthd.toml                     deploy/berthd.toml, only when none is there yet
# The default image comes from Debian's busybox-static (/bin/busybox), not from this tree.
install(TARGETS berth berthd berth-shim berth-init berth-runtime RUNTIME DESTINATION bin)
install(DIRECTORY ${BERTH_MAN_DIR}/man1 ${BERTH_MAN_DIR}/man8 DESTINATION share/man)
install(FILES ${BERTH_COMPLETION_DIR}/berth DESTINATION share/bash-completion/completions)

# The unit is configured when installing, not when configuring: --prefix may change it then.
# deploy/berthd.service stays the one source; only its /usr/local/bin/berthd is replaced.
install(CODE "
  set(unit_dir \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\")
  file(READ \"${PROJECT_SOURCE_DIR}/deploy/berthd.service\" unit)
  string(REPLACE \"/usr/local/bin/berthd\" \"\${CMAKE_INSTALL_PREFIX}/bin/berthd\" unit \"\${unit}\")
  message(STATUS \"Installing: \${unit_dir}/berthd.service\")
  file(MAKE_DIRECTORY \"\${unit_dir}\")
  file(WRITE \"\${unit_dir}/berthd.service\" \"\${unit}\")
  set(config \"\$ENV{DESTDIR}/etc/berth/berthd.toml\")
  if(EXISTS \"\${config}\")
    message(STATUS \"Keeping: \${config}\")
  else()
    message(STATUS \"Installing: \${config}\")
    file(MAKE_DIRECTORY \"\$ENV{DESTDIR}/etc/berth\")
    file(COPY_FILE \"${PROJECT_SOURCE_DIR}/deploy/berthd.toml\" \"\${config}\")
  endif()
")
