# cmake -DGEN=openapi-gen -DOUT=generated.json -DDOC=docs/api/openapi.json -P check_current.cmake
# Fails unless `openapi-gen --dev` prints exactly the checked-in document.
execute_process(COMMAND ${GEN} --dev OUTPUT_FILE ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${GEN} --dev failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${OUT} ${DOC} RESULT_VARIABLE differ)
if(NOT differ EQUAL 0)
  message(FATAL_ERROR "${DOC} is not what the protos say (generated: ${OUT}). "
    "Run `make openapi` (build/gateway/openapi/openapi-gen --dev > docs/api/openapi.json) "
    "and commit docs/api/openapi.json.")
endif()
