# SPDX-License-Identifier: MIT
# Helpers shared by every directory of the project.

set(VM_WARNINGS
    -Wall -Wextra
    -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 -Wundef -Wwrite-strings
    -Wshadow -Wpointer-arith -Wvla -Wno-unused-parameter
    -Wimplicit-fallthrough -Wno-missing-field-initializers)
# Warnings are errors only where we choose the compiler and flags: the
# presets developers and CI use turn VMSTACK_WERROR on (CMakePresets.json).
# A plain build (a packager's newer compiler, -O3, distribution flags) must
# not fail on a warning we have not seen yet (docs/CONVENTIONS.md, rule 1).
if(VMSTACK_WERROR)
  list(APPEND VM_WARNINGS -Werror)
endif()

# Host code gets the sanitizer / fuzzer instrumentation of the preset; the
# freestanding guest never does (see guest-vsc/CMakeLists.txt).
set(VM_HOST_FLAGS "")
if(VM_SANITIZE)
  list(APPEND VM_HOST_FLAGS -fsanitize=${VM_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
endif()
if(VM_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "VM_FUZZ needs clang (use the 'fuzz' preset)")
  endif()
  list(APPEND VM_HOST_FLAGS -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
endif()

function(vm_host_target tgt)
  target_compile_options(${tgt} PRIVATE ${VM_WARNINGS} ${VM_HOST_FLAGS})
  target_compile_definitions(${tgt} PRIVATE _GNU_SOURCE)
  if(VM_SANITIZE)
    target_link_options(${tgt} PRIVATE -fsanitize=${VM_SANITIZE})
  endif()
  if(VM_FUZZ)
    target_link_options(${tgt} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

# vm_library(NAME <name> SOURCES ... DEPS ...): a static library with its
# public headers in ${CMAKE_CURRENT_SOURCE_DIR}/include.
set_property(GLOBAL PROPERTY VM_LIBRARIES "")
function(vm_library)
  cmake_parse_arguments(A "" "NAME" "SOURCES;DEPS;EXTERNAL" ${ARGN})
  add_library(${A_NAME} STATIC ${A_SOURCES})
  target_include_directories(${A_NAME} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(${A_NAME} PUBLIC ${A_DEPS} ${A_EXTERNAL})
  vm_host_target(${A_NAME})
  set_property(GLOBAL APPEND PROPERTY VM_LIBRARIES ${A_NAME})
  set_property(GLOBAL PROPERTY VM_DEPS_${A_NAME} "${A_DEPS}")
endfunction()

# The allowed direct dependencies of every project library. A library not
# listed here may not be created; a dependency not listed fails configure.
set(VM_ALLOWED_common "")
set(VM_ALLOWED_vid common)
set(VM_ALLOWED_hvshim vid common)
set(VM_ALLOWED_vmbus hvshim vid common)
set(VM_ALLOWED_vhdx common)
set(VM_ALLOWED_scsi common)
set(VM_ALLOWED_disk vhdx common)
set(VM_ALLOWED_rndis common)
set(VM_ALLOWED_storvsp vmbus hvshim vid common scsi disk vhdx)
set(VM_ALLOWED_netvsp vmbus hvshim vid common rndis)
set(VM_ALLOWED_icvsp vmbus hvshim vid common)
set(VM_ALLOWED_hvsock vmbus hvshim vid common)
set(VM_ALLOWED_dmvsp vmbus hvshim vid common)
set(VM_ALLOWED_inputvsp vmbus hvshim vid common)
set(VM_ALLOWED_videovsp vmbus hvshim vid common)
set(VM_ALLOWED_vmdisplaycore common)
# emu: no VMBus and no provider; its IDE controller runs on the disk library.
set(VM_ALLOWED_emu vid common scsi disk)
set(VM_ALLOWED_vmwpcore storvsp netvsp icvsp hvsock dmvsp inputvsp videovsp emu disk vmbus hvshim vid common vhdx)
set(VM_ALLOWED_vmmsshared common vhdx)
set(VM_ALLOWED_vmmscore vmmsshared common vhdx)
set(VM_ALLOWED_vmctlcore vmmsshared common vhdx)
set(VM_ALLOWED_vsc "")
# Test support (tests/lib/): linked by tests, fuzz targets and benchmarks
# only; no product library above lists it.
set(VM_ALLOWED_vmbustest vmbus common)

function(vm_check_layering)
  get_property(libs GLOBAL PROPERTY VM_LIBRARIES)
  foreach(lib ${libs})
    if(NOT DEFINED VM_ALLOWED_${lib})
      message(FATAL_ERROR "layering: library '${lib}' has no entry in cmake/VmStack.cmake")
    endif()
    get_property(deps GLOBAL PROPERTY VM_DEPS_${lib})
    foreach(d ${deps})
      if(d STREQUAL "hvdefs") # wire formats: header-only, usable by every layer
        continue()
      endif()
      if(TARGET ${d} AND NOT d IN_LIST VM_ALLOWED_${lib})
        list(FIND libs ${d} is_ours)
        if(NOT is_ours EQUAL -1)
          message(FATAL_ERROR "layering: '${lib}' may not depend on '${d}' (docs/ARCHITECTURE.md)")
        endif()
      endif()
    endforeach()
  endforeach()
endfunction()
