# Included by the top-level CMakeLists.txt when ZK_FUZZ=ON, before any library is defined: every
# library gets libFuzzer's coverage instrumentation plus ASan and UBSan, so the targets in
# tests/fuzz are guided by, and check, the code they drive. clang only (docs/fuzzing.md).
if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "ZK_FUZZ=ON needs clang: cmake -DCMAKE_C_COMPILER=clang -DZK_FUZZ=ON ...")
endif()
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                    -fno-omit-frame-pointer -g)
add_link_options(-fsanitize=address,undefined)
