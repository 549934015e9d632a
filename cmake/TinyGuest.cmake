# SPDX-License-Identifier: MIT
# Tiny test guests: tests/guests/<name>.S, assembled and linked flat at the
# address given by a "# load: 0x..." line, embedded as
#   extern const unsigned char tg_<name>[]; extern const unsigned tg_<name>_len;
# A guest with a "# elf: yes" line is linked as an ELF as well and embedded
# as tg_<name>_elf[] / tg_<name>_elf_len (for vmwp's PVH loader, which reads
# the Xen PVH note such a guest carries). Its .note.Xen goes 64 KiB after
# the load address, so its code must stay below that; the flat binary is
# then its .text only.
# Built without sanitizer flags: this is guest code.
function(vm_tiny_guests dir out_lib)
  file(GLOB srcs CONFIGURE_DEPENDS ${dir}/*.S)
  set(cfiles "")
  foreach(src ${srcs})
    get_filename_component(name ${src} NAME_WE)
    string(MAKE_C_IDENTIFIER ${name} cname)
    file(STRINGS ${src} load_line REGEX "^# load: 0x[0-9a-fA-F]+")
    if(NOT load_line)
      message(FATAL_ERROR "${src}: missing '# load: 0x...' line")
    endif()
    string(REGEX REPLACE "^# load: (0x[0-9a-fA-F]+).*" "\\1" addr "${load_line}")
    set(obj ${CMAKE_CURRENT_BINARY_DIR}/tg_${cname}.o)
    set(bin ${CMAKE_CURRENT_BINARY_DIR}/tg_${cname}.bin)
    set(cfile ${CMAKE_CURRENT_BINARY_DIR}/tg_${cname}.c)
    file(STRINGS ${src} elf_line REGEX "^# elf: yes")
    if(elf_line)
      set(elf ${CMAKE_CURRENT_BINARY_DIR}/tg_${cname}.elf)
      set(elfc ${CMAKE_CURRENT_BINARY_DIR}/tg_${cname}_elf.c)
      math(EXPR note_addr "${addr} + 0x10000" OUTPUT_FORMAT HEXADECIMAL)
      add_custom_command(OUTPUT ${cfile} ${elfc}
        COMMAND gcc -c -x assembler-with-cpp -nostdlib -o ${obj} ${src}
        COMMAND ld -m elf_x86_64 -N -Ttext=${addr} --section-start=.note.Xen=${note_addr}
                --no-warn-rwx-segments -e _start -o ${elf} ${obj}
        COMMAND objcopy -O binary -j .text ${elf} ${bin}
        COMMAND ${CMAKE_COMMAND} -DBIN=${bin} -DOUT=${cfile} -DNAME=tg_${cname}
                -P ${CMAKE_SOURCE_DIR}/cmake/bin2c.cmake
        COMMAND ${CMAKE_COMMAND} -DBIN=${elf} -DOUT=${elfc} -DNAME=tg_${cname}_elf
                -P ${CMAKE_SOURCE_DIR}/cmake/bin2c.cmake
        DEPENDS ${src} ${CMAKE_SOURCE_DIR}/cmake/bin2c.cmake
        COMMENT "tiny guest ${name} @ ${addr} (flat and ELF)")
      list(APPEND cfiles ${cfile} ${elfc})
      continue()
    endif()
    add_custom_command(OUTPUT ${cfile}
      COMMAND gcc -c -x assembler-with-cpp -nostdlib -o ${obj} ${src}
      COMMAND ld -m elf_x86_64 -N -Ttext=${addr} -e 0 --oformat binary -o ${bin} ${obj}
      COMMAND ${CMAKE_COMMAND} -DBIN=${bin} -DOUT=${cfile} -DNAME=tg_${cname}
              -P ${CMAKE_SOURCE_DIR}/cmake/bin2c.cmake
      DEPENDS ${src} ${CMAKE_SOURCE_DIR}/cmake/bin2c.cmake
      COMMENT "tiny guest ${name} @ ${addr}")
    list(APPEND cfiles ${cfile})
  endforeach()
  if(cfiles)
    add_library(${out_lib} STATIC ${cfiles})
  else()
    add_library(${out_lib} INTERFACE)
  endif()
endfunction()
