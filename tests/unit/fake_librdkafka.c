/* Stands for a librdkafka file in librdkafka_probe_test.cpp: only what doctor
 * reads from one (rd_kafka_version's constant, the configuration table's
 * names). FAKE_VERSION and, for a build with librdkafka's own certificate
 * reload, FAKE_NATIVE_RELOAD come from CMakeLists.txt. */
__attribute__((visibility("default"))) int rd_kafka_version(void) {
  return FAKE_VERSION;
}

__attribute__((visibility("default")))
const char* const fake_properties[] = {"ssl.certificate.location",
#ifdef FAKE_NATIVE_RELOAD
                                       "ssl.certificate.refresh.interval.ms",
#endif
                                       "ssl.key.location"};
