# Static links of the small, often-started binaries (berth-shim, berth-runtime, the berth CLI).
# Debian ships static archives next to the shared libraries; the imported targets name the .so
# files, so the link line is built from the same dependency graph with each .so replaced by
# its .a. Without an archive: a normal, dynamic link.

# Appends to `out_var` the link items of `targets` and everything they link, static archives
# instead of shared objects; sets `missing_var` to the first archive that does not exist.
function(berth_static_link_items out_var missing_var)
  set(items)
  set(missing)
  set(seen)
  set(queue ${ARGN})
  while(queue)
    list(POP_FRONT queue item)
    # $<LINK_ONLY:x> marks private deps of static libraries: they are still linked.
    string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" item "${item}")
    if(item STREQUAL "" OR item IN_LIST seen)
      continue()
    endif()
    list(APPEND seen "${item}")
    if(TARGET "${item}")
      get_target_property(aliased "${item}" ALIASED_TARGET)
      if(aliased)
        list(APPEND queue "${aliased}")
        continue()
      endif()
      get_target_property(type "${item}" TYPE)
      get_target_property(imported "${item}" IMPORTED)
      if(type STREQUAL "STATIC_LIBRARY" AND NOT imported)
        list(APPEND items "$<TARGET_FILE:${item}>")
      elseif(imported AND NOT type STREQUAL "INTERFACE_LIBRARY")
        set(location "")
        foreach(prop IMPORTED_LOCATION_NONE IMPORTED_LOCATION_RELEASE IMPORTED_LOCATION)
          get_target_property(location "${item}" ${prop})
          if(location)
            break()
          endif()
        endforeach()
        list(APPEND queue "${location}")
      endif()
      get_target_property(deps "${item}" INTERFACE_LINK_LIBRARIES)
      if(deps)
        list(APPEND queue ${deps})
      endif()
    elseif(item MATCHES "\\.so(\\.[0-9]+)*$")
      string(REGEX REPLACE "\\.so(\\.[0-9]+)*$" ".a" archive "${item}")
      if(NOT EXISTS "${archive}" AND NOT missing)
        set(missing "${archive}")
      endif()
      list(APPEND items "${archive}")
    elseif(item MATCHES "^-l" AND NOT item MATCHES "^-l(c|m|dl|rt|pthread|util)$")
      string(SUBSTRING "${item}" 2 -1 bare)
      list(APPEND queue "${bare}")  # a bare name, below
    elseif(item MATCHES "^-|^/")
      list(APPEND items "${item}")
    elseif(item STREQUAL "Threads::Threads" OR item MATCHES "^\\$<")
      # Header-only or generator-expression helpers: nothing to link statically.
    elseif(item MATCHES "^(c|m|dl|rt|pthread|util)$")
      # The C runtime's own parts: as the program links libc.
      list(APPEND items "-l${item}")
    else()
      # A bare name (gRPC names re2 so): its archive, found where the shared objects are.
      find_library(BERTH_ARCHIVE_${item} NAMES lib${item}.a)
      if(BERTH_ARCHIVE_${item})
        list(APPEND items "${BERTH_ARCHIVE_${item}}")
      else()
        list(APPEND items "-l${item}")
      endif()
    endif()
  endwhile()
  set(${out_var} "${items}" PARENT_SCOPE)
  set(${missing_var} "${missing}" PARENT_SCOPE)
endfunction()

# Links `target` with `deps` statically when every archive exists (and BERTH_STATIC_TOOLS is
# on), else dynamically; says which in the configure output.
function(berth_link_statically target)
  _berth_link_archives(${target} FULLY ${ARGN})
endfunction()

# Links `target` with the static archives of `deps` (gRPC, Protobuf, Abseil, OpenSSL, ...) and of
# libstdc++, only the C library shared (NSS, dlopen), as a position-dependent executable: for a
# short-lived program that links dozens of libraries (the `berth` CLI), loading and relocating
# them was most of its run time. Without an archive: a normal, dynamic link.
function(berth_link_archives target)
  _berth_link_archives(${target} LIBC_SHARED ${ARGN})
endfunction()

function(_berth_link_archives target mode)
  set(deps ${ARGN})
  set(missing "not wanted")
  if(BERTH_STATIC_TOOLS)
    berth_static_link_items(items missing ${deps})
  endif()
  if(missing)
    message(STATUS "${target}: linked dynamically (${missing} is missing)")
    target_link_libraries(${target} PRIVATE ${deps})
    return()
  endif()
  # Usage requirements (include directories, definitions) still come from the targets; the
  # link line does not.
  foreach(dep ${deps})
    target_include_directories(${target} PRIVATE $<TARGET_PROPERTY:${dep},INTERFACE_INCLUDE_DIRECTORIES>)
    target_compile_definitions(${target} PRIVATE $<TARGET_PROPERTY:${dep},INTERFACE_COMPILE_DEFINITIONS>)
  endforeach()
  add_dependencies(${target} ${deps})
  # A group, because the archives' order from a graph walk is not a link order.
  target_link_libraries(${target} PRIVATE -Wl,--start-group ${items} -Wl,--end-group)
  if(mode STREQUAL "FULLY")
    target_link_options(${target} PRIVATE -static -Wl,--gc-sections)
  else()
    # No PIE: nothing for the dynamic loader to relocate in the program itself.
    target_link_options(${target} PRIVATE -no-pie -static-libstdc++ -static-libgcc -Wl,--gc-sections)
    target_link_libraries(${target} PRIVATE -pthread ${CMAKE_DL_LIBS})
  endif()
endfunction()
