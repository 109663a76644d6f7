// cpp-consumer: reads a topic in a consumer group and moves to a renewed client
// certificate without reading a message twice, skipping one, or making the
// group rebalance, and without restarting.
//
//   cpp-consumer --credentials DIR --bootstrap HOST:PORT --topic T --group G
//                --instance-id ID [--no-reload]
//
// A consumer cannot change its certificate either, so on a new generation
// (inotify on DIR/..data, or certswap's SIGHUP) it is replaced:
//   1. commit what was processed, synchronously;
//   2. close the consumer. With static membership (group.instance.id) close
//      sends no LeaveGroup, so the group keeps this member's partitions;
//   3. a new consumer with the same group.instance.id and the new set joins,
//      gets the same partitions back without a rebalance, and resumes at the
//      committed offsets.
// If the new set does not work, the consumer retries every 2 s with it: the old
// one is already closed (two members with one instance id would fence each other).
//
// Stdout is JSON lines: {"event":"message","partition":P,"offset":O,"value":V}
// per message, {"event":"reloaded",...}, and {"event":"summary",...} on SIGTERM.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "certswap_reload.hpp"
#include "example_args.hpp"
#include "example_signals.hpp"

namespace {

using Consumer = certswap_reload::KafkaHandle;

struct Options {
  std::string dir, bootstrap, topic, group, instance_id;
};

// `native`: the librdkafka reloads the files itself (has_native_reload()).
Consumer make_consumer(const Options& o, bool native, std::string& error) {
  const certswap_reload::Properties properties = {{"bootstrap.servers", o.bootstrap.c_str()},
                                                  {"group.id", o.group.c_str()},
                                                  {"group.instance.id", o.instance_id.c_str()},
                                                  {"enable.auto.commit", "false"},
                                                  {"auto.offset.reset", "earliest"},
                                                  {"session.timeout.ms", "45000"},
                                                  {"reconnect.backoff.ms", "100"},
                                                  // librdkafka before 2.10 (Debian's 2.0.2):
                                                  // see examples/README.md, "what to set".
                                                  {"socket.nagle.disable", "true"},
                                                  {"reconnect.backoff.max.ms", "1000"}};
  rd_kafka_conf_t* conf = nullptr;
  if (native) {
    conf = certswap_reload::make_native_conf(properties, o.dir, error);
  } else {
    auto set = certswap_reload::read_pem_set(o.dir, error);
    if (!set) return nullptr;
    conf = certswap_reload::make_conf(properties, *set, error);
  }
  if (!conf) return nullptr;
  char errstr[512];
  Consumer rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr));
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    error = errstr;
    return nullptr;
  }
  rd_kafka_poll_set_consumer(rk.get());
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, o.topic.c_str(), RD_KAFKA_PARTITION_UA);
  const rd_kafka_resp_err_t err = rd_kafka_subscribe(rk.get(), topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err) {
    error = std::string("subscribe: ") + rd_kafka_err2str(err);
    return nullptr;
  }
  return rk;
}

// Commits the positions of everything handed to the app so far.
void commit(rd_kafka_t* rk) {
  const rd_kafka_resp_err_t err = rd_kafka_commit(rk, nullptr, 0);
  if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
    std::fprintf(stderr, "cpp-consumer: commit failed: %s\n", rd_kafka_err2str(err));
}

}  // namespace

int main(int argc, char** argv) {
  auto args = example::parse_args(
      argc, argv, {"credentials", "bootstrap", "topic", "group", "instance-id"}, {"no-reload"});
  const Options o{args["credentials"], args["bootstrap"], args["topic"], args["group"],
                  args["instance-id"]};
  const bool reload = !args.count("no-reload");
  // librdkafka's own reload, where the librdkafka this runs with has it, is
  // preferred to a new handle: no rebalance, nothing to commit first.
  const bool native = reload && certswap_reload::has_native_reload();
  std::fprintf(stderr, "cpp-consumer: librdkafka %s, %s\n", rd_kafka_version_str(),
               native ? "reloads the files itself (ssl.certificate.refresh.interval.ms)"
                      : "no own reload: a new generation gets a new handle");

  example::catch_signals();

  certswap_reload::GenerationWatch watch(o.dir);
  std::string error;
  Consumer consumer = make_consumer(o, native, error);
  if (!consumer) {
    std::fprintf(stderr, "cpp-consumer: %s\n", error.c_str());
    return 1;
  }

  using Clock = std::chrono::steady_clock;
  size_t consumed = 0, reloads = 0, errors = 0;
  auto last_commit = Clock::now();
  while (!example::g_stop) {
    if (example::g_hup) {
      example::g_hup = 0;
      watch.request_check();
    }
    if (reload && watch.changed()) {
      // A librdkafka with its own reload takes the files within its interval.
      if (!native) {
        commit(consumer.get());
        rd_kafka_consumer_close(consumer.get());
        consumer.reset();
        while (!consumer && !example::g_stop) {
          consumer = make_consumer(o, native, error);
          if (!consumer) {
            std::fprintf(stderr, "cpp-consumer: cannot start with the new set: %s\n",
                         error.c_str());
            std::this_thread::sleep_for(std::chrono::seconds(2));
          }
        }
        if (!consumer) break;
      }
      ++reloads;
      example::emit(R"({"event":"reloaded","native":)" + std::string(native ? "true" : "false") +
                    R"(,"generation":")" + watch.current() + R"("})");
    }
    rd_kafka_message_t* msg = rd_kafka_consumer_poll(consumer.get(), 100);
    if (msg) {
      if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++consumed;
        char line[160];
        std::snprintf(line, sizeof line,
                      R"({"event":"message","partition":%d,"offset":%lld,"value":"%.*s"})",
                      msg->partition, static_cast<long long>(msg->offset),
                      static_cast<int>(msg->len), static_cast<const char*>(msg->payload));
        example::emit(line);
      } else if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        ++errors;
        std::fprintf(stderr, "cpp-consumer: %s\n", rd_kafka_message_errstr(msg));
      }
      rd_kafka_message_destroy(msg);
    }
    if (Clock::now() - last_commit > std::chrono::milliseconds(500)) {
      commit(consumer.get());
      last_commit = Clock::now();
    }
  }
  if (consumer) {
    commit(consumer.get());
    rd_kafka_consumer_close(consumer.get());
  }
  char line[160];
  std::snprintf(line, sizeof line,
                R"({"event":"summary","consumed":%zu,"errors":%zu,"reloads":%zu})", consumed,
                errors, reloads);
  example::emit(line);
  return 0;
}
