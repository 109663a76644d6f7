// cpp-producer: sends a numbered stream at a steady rate and moves to a renewed
// client certificate without losing, duplicating or reordering a message, and
// without restarting.
//
//   cpp-producer --credentials DIR --bootstrap HOST:PORT --topic T
//                [--rate 200] [--no-reload] [--latency-log FILE]
//
// When certswap makes a new generation live (inotify on DIR/..data, or the
// SIGHUP of certswap's signal notifier):
//   1. build a new producer from the new set and wait until it can describe the
//      topic, while the old one keeps sending: a set that cannot connect or is
//      not authorized never stops traffic;
//   2. stop sending, flush the old producer (every message in flight is
//      delivered or reported), destroy it;
//   3. send on the new producer.
// Each producer is idempotent (its own retries never duplicate), and step 2 ends
// one stream before the next begins, so per-partition order holds across it.
//
// Back-pressure: when the broker is away (a restart, a network cut) the local
// queue fills; produce() then serves delivery reports and tries the same
// message again, as librdkafka's examples/producer.c does, so no rate and no
// outage drops a message. The schedule is kept: the wait shows as latency.
//
// Stdout is JSON lines: {"event":"started"}, {"event":"reloaded",...} and, on
// SIGTERM/SIGINT, {"event":"summary",...} with what was sent, delivered, failed
// and left unsent. --latency-log FILE gets one line per message sent,
// "<scheduled unix ms> <ms to delivery report | failed | undelivered>", from
// which the tests cut the windows around the swap and the broker restart.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <memory>
#include <string>
#include <vector>

#include "certswap_reload.hpp"
#include "example_args.hpp"
#include "example_signals.hpp"

namespace {

using Clock = std::chrono::steady_clock;

using Producer = certswap_reload::KafkaHandle;

struct Record {
  Clock::time_point scheduled;
  double latency_ms = -1;  // -1: no delivery report yet
  bool failed = false;
};

struct Stats {
  std::vector<Record> records;
  size_t delivered = 0, failed = 0;
  bool started = false;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto& stats = *static_cast<Stats*>(opaque);
  const auto seq = reinterpret_cast<std::uintptr_t>(msg->_private);
  Record& r = stats.records.at(seq);
  if (msg->err) {
    r.failed = true;
    ++stats.failed;
    std::fprintf(stderr, "delivery failed for %zu: %s\n", static_cast<size_t>(seq),
                 rd_kafka_err2str(msg->err));
    return;
  }
  r.latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - r.scheduled).count();
  ++stats.delivered;
  if (!stats.started) {
    stats.started = true;
    example::emit(R"({"event":"started"})");
  }
}

// A producer built from the generation DIR/..data points at now, ready once it
// has described the topic over mTLS (so the principal is authorized).
// `native`: the librdkafka reloads the files itself (has_native_reload()).
Producer make_producer(const std::string& dir, const std::string& bootstrap,
                       const std::string& topic, bool native, Stats& stats, std::string& error) {
  // message.timeout.ms 0: a message waits for the broker however long it is
  // away (a restart under load took more than 30 s), instead of failing; the
  // idempotent producer keeps order and sends it once when the broker is back.
  const certswap_reload::Properties properties = {{"bootstrap.servers", bootstrap.c_str()},
                                                  {"enable.idempotence", "true"},
                                                  {"acks", "all"},
                                                  {"linger.ms", "5"},
                                                  {"message.timeout.ms", "0"},
                                                  {"reconnect.backoff.ms", "100"},
                                                  // librdkafka before 2.10 (Debian's 2.0.2):
                                                  // see examples/README.md, "what to set".
                                                  {"socket.nagle.disable", "true"},
                                                  {"reconnect.backoff.max.ms", "1000"}};
  rd_kafka_conf_t* conf = nullptr;
  std::string generation;
  if (native) {
    generation = certswap_reload::link_target(dir + "/..data");
    conf = certswap_reload::make_native_conf(properties, dir, error);
  } else {
    auto set = certswap_reload::read_pem_set(dir, error);
    if (!set) return nullptr;
    generation = set->generation;
    conf = certswap_reload::make_conf(properties, *set, error);
  }
  if (!conf) return nullptr;
  char errstr[512];
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_conf_set_opaque(conf, &stats);
  // rd_kafka_new takes the conf only when it succeeds.
  Producer rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr));
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    error = errstr;
    return nullptr;
  }
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk.get(), 0, rkt, &md, 10000);
  if (!err && md->topic_cnt == 1) err = md->topics[0].err;
  if (md) rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  if (err) {
    error = "generation " + generation + " cannot describe " + topic + ": " + rd_kafka_err2str(err);
    return nullptr;
  }
  return rk;
}

// Hands message seq to the producer, waiting while its queue is full; false
// only when asked to stop before the message could be queued.
bool produce(rd_kafka_t* rk, const std::string& topic, size_t seq, Stats& stats) {
  const std::string value = std::to_string(seq);
  const std::string key = "k" + std::to_string(seq % 4);
  for (;;) {
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic.c_str()),
        RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<std::uintptr_t>(seq))),
        RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return true;
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      stats.records[seq].failed = true;
      ++stats.failed;
      std::fprintf(stderr, "delivery failed for %zu: %s\n", seq, rd_kafka_err2str(err));
      return true;
    }
    // The queue holds queue.buffering.max.messages: serve delivery reports,
    // which is what frees room, and try the same message again.
    if (example::g_stop) return false;
    rd_kafka_poll(rk, 100);
  }
}

void write_latency_log(const std::string& path, const Stats& stats,
                       std::chrono::system_clock::time_point wall_start, Clock::time_point start) {
  std::ofstream out(path);
  out << std::fixed << std::setprecision(3);
  for (const Record& r : stats.records) {
    const auto wall = wall_start + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                       r.scheduled - start);
    out << std::chrono::duration<double, std::milli>(wall.time_since_epoch()).count() << ' ';
    if (r.failed)
      out << "failed\n";
    else if (r.latency_ms < 0)
      out << "undelivered\n";
    else
      out << r.latency_ms << '\n';
  }
  if (!out) std::fprintf(stderr, "cpp-producer: cannot write the latency log %s\n", path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  auto args = example::parse_args(argc, argv, {"credentials", "bootstrap", "topic"}, {"no-reload"});
  const std::string dir = args["credentials"], bootstrap = args["bootstrap"], topic = args["topic"];
  const double rate = args.count("rate") ? std::stod(args["rate"]) : 200.0;
  const bool reload = !args.count("no-reload");
  // librdkafka's own reload, where the librdkafka this runs with has it, is
  // preferred to a new handle: nothing to flush, no second connection set.
  const bool native = reload && certswap_reload::has_native_reload();
  std::fprintf(stderr, "cpp-producer: librdkafka %s, %s\n", rd_kafka_version_str(),
               native ? "reloads the files itself (ssl.certificate.refresh.interval.ms)"
                      : "no own reload: a new generation gets a new handle");

  example::catch_signals();

  Stats stats;
  stats.records.reserve(1 << 20);
  certswap_reload::GenerationWatch watch(dir);
  std::string error;
  Producer producer = make_producer(dir, bootstrap, topic, native, stats, error);
  if (!producer) {
    std::fprintf(stderr, "cpp-producer: %s\n", error.c_str());
    return 1;
  }

  const auto interval =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate));
  const auto start = Clock::now();
  const auto wall_start = std::chrono::system_clock::now();
  size_t reloads = 0;
  size_t unsent = 0;     // due but never queued: asked to stop while the queue was full
  bool pending = false;  // a change seen but not switched to yet
  Clock::time_point retry_at{};

  while (!example::g_stop) {
    if (example::g_hup) {
      example::g_hup = 0;
      watch.request_check();
    }
    if (reload && watch.changed()) {
      if (native) {  // librdkafka takes it within its interval
        ++reloads;
        example::emit(R"({"event":"reloaded","native":true,"generation":")" + watch.current() +
                      R"("})");
      } else {
        pending = true;
      }
    }
    if (pending && Clock::now() >= retry_at) {
      Producer fresh = make_producer(dir, bootstrap, topic, native, stats, error);
      if (!fresh) {
        std::fprintf(stderr, "cpp-producer: keeping the current certificate: %s\n", error.c_str());
        retry_at = Clock::now() + std::chrono::seconds(2);
      } else {
        rd_kafka_flush(producer.get(), 30000);
        producer = std::move(fresh);
        ++reloads;
        pending = false;
        example::emit(R"({"event":"reloaded","generation":")" + watch.current() + R"("})");
      }
    }
    // Catch up on the schedule, so a pause shows up as latency, not as fewer messages.
    const auto due = static_cast<size_t>((Clock::now() - start) / interval) + 1;
    while (stats.records.size() < due) {
      const size_t seq = stats.records.size();
      stats.records.push_back({start + interval * static_cast<long>(seq)});
      if (!produce(producer.get(), topic, seq, stats)) {
        // Stopped while the queue was full: what was due is reported, not hidden.
        stats.records.pop_back();
        unsent = due - seq;
        break;
      }
    }
    rd_kafka_poll(producer.get(), 1);
  }
  const auto stopped = Clock::now();

  if (rd_kafka_flush(producer.get(), 30000) != RD_KAFKA_RESP_ERR_NO_ERROR)
    std::fprintf(stderr, "cpp-producer: %d messages not delivered within 30 s\n",
                 rd_kafka_outq_len(producer.get()));

  if (args.count("latency-log")) write_latency_log(args["latency-log"], stats, wall_start, start);
  char line[256];
  std::snprintf(line, sizeof line,
                R"({"event":"summary","sent":%zu,"delivered":%zu,"failed":%zu,"unsent":%zu,)"
                R"("reloads":%zu,"rate":%.1f})",
                stats.records.size(), stats.delivered, stats.failed, unsent, reloads,
                static_cast<double>(stats.records.size()) /
                    std::chrono::duration<double>(stopped - start).count());
  example::emit(line);
  return 0;
}
