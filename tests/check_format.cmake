# Fails when any C++ source differs from what clang-format (.clang-format) would write.
file(GLOB_RECURSE sources
     ${SOURCE_DIR}/core/*.h ${SOURCE_DIR}/core/*.cc ${SOURCE_DIR}/net/*.h ${SOURCE_DIR}/net/*.cc
     ${SOURCE_DIR}/channel/*.h ${SOURCE_DIR}/channel/*.cc ${SOURCE_DIR}/tools/*.h
     ${SOURCE_DIR}/tools/*.cc ${SOURCE_DIR}/bench/*.cc ${SOURCE_DIR}/tests/*.h
     ${SOURCE_DIR}/tests/*.cc)
execute_process(COMMAND ${CLANG_FORMAT} --dry-run --Werror ${sources}
                RESULT_VARIABLE result ERROR_VARIABLE errors)
if(NOT result EQUAL 0)
    message(FATAL_ERROR "clang-format differences (run clang-format -i on these files):\n${errors}")
endif()
