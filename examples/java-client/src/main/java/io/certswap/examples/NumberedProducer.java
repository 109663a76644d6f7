package io.certswap.examples;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Sends "0", "1", "2", ... at a fixed rate over mTLS until SIGTERM/SIGINT, and reports
 * what happened around a certificate rotation as JSON lines on stdout.
 *
 * <pre>
 * NumberedProducer --credentials DIR --password-file FILE --bootstrap HOST:PORT --topic TOPIC
 *                  [--rate 200] [--no-reload] [--latency-log FILE]
 * </pre>
 *
 * Without --no-reload the client uses {@link ReloadingSslEngineFactory}; with it, the
 * built-in SSL settings (the stores are read once, when the producer is created).
 *
 * <p>Message n is due at start + n / rate, and the schedule is kept: when send() blocks
 * (metadata wait, full buffer) the messages that came due meanwhile are sent as soon as it
 * returns, so a stall shows as latency and as "late" (sent more than 1 s after it was due),
 * never as fewer messages. The summary gives what was sent, delivered, failed, late, due but
 * never sent when the stop came ("unsent"), and the rate achieved. --latency-log FILE gets one
 * line per message sent: "&lt;due unix ms&gt; &lt;ms from due to acknowledgement | failed |
 * undelivered&gt;".
 */
public final class NumberedProducer {
    private static final long LATE_NANOS = 1_000_000_000L;
    private static final long NO_REPORT = -1, FAILED = -2;

    private static final Object OUT_LOCK = new Object();

    private final AtomicLong sent = new AtomicLong();
    private final AtomicLong delivered = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong late = new AtomicLong();
    private final AtomicLong reloads = new AtomicLong();
    private final AtomicBoolean started = new AtomicBoolean();
    // Per message sent: nanoseconds from due to acknowledgement, NO_REPORT or FAILED.
    private final List<Long> outcomes = new ArrayList<>();
    private volatile long startNanos, startWallMillis, stopNanos;
    private volatile double periodNanos;

    private volatile boolean running = true;

    public static void main(String[] args) throws Exception {
        String credentials = null, passwordFile = null, bootstrap = null, topic = null, latencyLog = null;
        double rate = 200;
        boolean reload = true;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--credentials": credentials = value(args, ++i); break;
                case "--password-file": passwordFile = value(args, ++i); break;
                case "--bootstrap": bootstrap = value(args, ++i); break;
                case "--topic": topic = value(args, ++i); break;
                case "--rate": rate = Double.parseDouble(value(args, ++i)); break;
                case "--no-reload": reload = false; break;
                case "--latency-log": latencyLog = value(args, ++i); break;
                default: usage("unknown argument " + args[i]);
            }
        }
        if (credentials == null || passwordFile == null || bootstrap == null || topic == null) {
            usage("--credentials, --password-file, --bootstrap and --topic are required");
        }
        if (!(rate > 0)) {
            usage("--rate must be > 0");
        }
        new NumberedProducer().run(Paths.get(credentials), Paths.get(passwordFile), bootstrap, topic, rate, reload,
                latencyLog == null ? null : Paths.get(latencyLog));
    }

    private void run(Path dir, Path passwordFile, String bootstrap, String topic, double rate, boolean reload,
            Path latencyLog) throws IOException {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "5");
        // A record waits for the broker however long it is away (a restart under load
        // took more than 30 s) instead of failing; idempotence keeps it once and in order.
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, Integer.toString(Integer.MAX_VALUE));
        props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        props.put(ProducerConfig.RECONNECT_BACKOFF_MS_CONFIG, "100");
        props.put(ProducerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "1000");
        props.put("security.protocol", "SSL");
        String keystore = dir.resolve("client.keystore.p12").toString();
        String truststore = dir.resolve("client.truststore.p12").toString();
        if (reload) {
            // The four lines an existing app needs (plus the class on its classpath).
            props.put("ssl.engine.factory.class", ReloadingSslEngineFactory.class.getName());
            props.put(ReloadingSslEngineFactory.KEYSTORE_LOCATION, keystore);
            props.put(ReloadingSslEngineFactory.TRUSTSTORE_LOCATION, truststore);
            props.put(ReloadingSslEngineFactory.PASSWORD_FILE, passwordFile.toString());
            ReloadingSslEngineFactory.setReloadListener(this::onReload);
        } else {
            // The built-in factory: the stores are read once, when the producer is created.
            String password = readPassword(passwordFile);
            props.put("ssl.keystore.type", "PKCS12");
            props.put("ssl.keystore.location", keystore);
            props.put("ssl.keystore.password", password);
            props.put("ssl.key.password", password);
            props.put("ssl.truststore.type", "PKCS12");
            props.put("ssl.truststore.location", truststore);
            props.put("ssl.truststore.password", password);
        }

        KafkaProducer<String, String> producer = new KafkaProducer<>(props);
        Thread sender = Thread.currentThread();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stopNanos = System.nanoTime();
            running = false;
            LockSupport.unpark(sender);
            try {
                sender.join(10_000);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
            try {
                producer.flush();
                producer.close(Duration.ofSeconds(40));
            } catch (RuntimeException e) {
                System.err.println("closing the producer: " + e);
            }
            if (latencyLog != null) {
                writeLatencyLog(latencyLog);
            }
            emit(summary());
            System.out.flush();
            System.err.flush();
            // Stopped on purpose: exit 0 rather than the JVM's 128+signal.
            Runtime.getRuntime().halt(0);
        }, "shutdown"));

        periodNanos = 1e9 / rate;
        startWallMillis = System.currentTimeMillis();
        startNanos = System.nanoTime();
        long seq = 0;
        while (running) {
            long due = dueNanos(seq);
            long now = System.nanoTime();
            if (now < due) {
                LockSupport.parkNanos(due - now);
                continue;
            }
            send(producer, topic, seq++, due, now);
        }
    }

    private long dueNanos(long seq) {
        return startNanos + Math.round(seq * periodNanos);
    }

    private void send(KafkaProducer<String, String> producer, String topic, long seq, long due, long now) {
        if (now - due > LATE_NANOS) {
            late.incrementAndGet();
        }
        synchronized (outcomes) {
            outcomes.add(NO_REPORT);
        }
        int index = (int) seq;
        ProducerRecord<String, String> record = new ProducerRecord<>(topic, "k" + (seq % 4), Long.toString(seq));
        try {
            producer.send(record, (metadata, exception) -> {
                if (exception == null) {
                    long latency = System.nanoTime() - due;
                    synchronized (outcomes) {
                        outcomes.set(index, latency);
                    }
                    delivered.incrementAndGet();
                    if (started.compareAndSet(false, true)) {
                        emit("{\"event\":\"started\"}");
                    }
                } else {
                    synchronized (outcomes) {
                        outcomes.set(index, FAILED);
                    }
                    failed.incrementAndGet();
                    System.err.println("delivery failed for " + seq + ": " + exception);
                }
            });
            sent.incrementAndGet();
        } catch (RuntimeException e) {
            // send() itself refused the record (e.g. metadata not available in max.block.ms).
            synchronized (outcomes) {
                outcomes.set(index, FAILED);
            }
            sent.incrementAndGet();
            failed.incrementAndGet();
            System.err.println("delivery failed for " + seq + ": " + e);
        }
    }

    private void onReload(String generation) {
        reloads.incrementAndGet();
        emit("{\"event\":\"reloaded\",\"generation\":\"" + jsonEscape(generation) + "\"}");
    }

    private void writeLatencyLog(Path path) {
        StringBuilder sb = new StringBuilder();
        synchronized (outcomes) {
            for (int i = 0; i < outcomes.size(); i++) {
                double dueMillis = startWallMillis + i * periodNanos / 1e6;
                long outcome = outcomes.get(i);
                sb.append(String.format(Locale.ROOT, "%.3f ", dueMillis));
                if (outcome == FAILED) {
                    sb.append("failed\n");
                } else if (outcome == NO_REPORT) {
                    sb.append("undelivered\n");
                } else {
                    sb.append(String.format(Locale.ROOT, "%.3f\n", outcome / 1e6));
                }
            }
        }
        try {
            Files.write(path, sb.toString().getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            System.err.println("NumberedProducer: cannot write the latency log " + path + ": " + e);
        }
    }

    private String summary() {
        double seconds = (stopNanos - startNanos) / 1e9;
        // Due when the stop came but never handed to send(): a stall the stop cut short.
        long due = periodNanos > 0 ? (long) Math.floor((stopNanos - startNanos) / periodNanos) + 1 : 0;
        long unsent = Math.max(0, due - sent.get());
        return "{\"event\":\"summary\",\"sent\":" + sent.get()
                + ",\"delivered\":" + delivered.get()
                + ",\"failed\":" + failed.get()
                + ",\"late\":" + late.get()
                + ",\"unsent\":" + unsent
                + ",\"reloads\":" + reloads.get()
                + ",\"rate\":" + String.format(Locale.ROOT, "%.1f", seconds > 0 ? sent.get() / seconds : 0.0) + "}";
    }

    private static void emit(String line) {
        synchronized (OUT_LOCK) {
            System.out.println(line);
            System.out.flush();
        }
    }

    private static String jsonEscape(String s) {
        StringBuilder sb = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                sb.append('\\').append(c);
            } else if (c < 0x20) {
                sb.append(String.format("\\u%04x", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    private static String readPassword(Path file) throws IOException {
        String s = new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
        return s.replaceAll("[\r\n]+$", "");
    }

    private static String value(String[] args, int i) {
        if (i >= args.length) {
            usage(args[i - 1] + " needs a value");
        }
        return args[i];
    }

    private static void usage(String message) {
        System.err.println("NumberedProducer: " + message);
        System.err.println("usage: NumberedProducer --credentials DIR --password-file FILE --bootstrap HOST:PORT"
                + " --topic TOPIC [--rate 200] [--no-reload] [--latency-log FILE]");
        System.exit(64);
    }
}
