# SPDX-License-Identifier: MIT
# cmake -DBIN=in -DOUT=out.c -DNAME=sym -P bin2c.cmake
file(READ ${BIN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n" body "${body}")
file(WRITE ${OUT} "/* generated from ${BIN} */\nconst unsigned char ${NAME}[] __attribute__((aligned(16))) = {\n${body}\n};\nconst unsigned ${NAME}_len = ${len};\n")
