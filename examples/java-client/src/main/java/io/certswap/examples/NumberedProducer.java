package io.certswap.examples;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
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
 *                  [--rate 200] [--no-reload]
 * </pre>
 *
 * Without --no-reload the client uses {@link ReloadingSslEngineFactory}; with it, the
 * built-in SSL settings (the stores are read once, when the producer is created).
 */
public final class NumberedProducer {
    private static final long DURING_NANOS = 2_000_000_000L;

    private enum Phase { BEFORE, DURING, AFTER }

    private static final Object OUT_LOCK = new Object();

    private final AtomicLong sent = new AtomicLong();
    private final AtomicLong delivered = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong reloads = new AtomicLong();
    private final AtomicBoolean started = new AtomicBoolean();
    private volatile boolean reloaded;
    private volatile long firstReloadNanos;
    private final List<List<Long>> latencies = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());

    private volatile boolean running = true;

    public static void main(String[] args) throws Exception {
        String credentials = null, passwordFile = null, bootstrap = null, topic = null;
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
                default: usage("unknown argument " + args[i]);
            }
        }
        if (credentials == null || passwordFile == null || bootstrap == null || topic == null) {
            usage("--credentials, --password-file, --bootstrap and --topic are required");
        }
        if (!(rate > 0)) {
            usage("--rate must be > 0");
        }
        new NumberedProducer().run(Paths.get(credentials), Paths.get(passwordFile), bootstrap, topic, rate, reload);
    }

    private void run(Path dir, Path passwordFile, String bootstrap, String topic, double rate, boolean reload)
            throws IOException {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "5");
        // delivery.timeout.ms must be >= linger.ms + request.timeout.ms (30 s by default).
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
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
            emit(summary());
            System.out.flush();
            System.err.flush();
            // Stopped on purpose: exit 0 rather than the JVM's 128+signal.
            Runtime.getRuntime().halt(0);
        }, "shutdown"));

        long period = (long) (1e9 / rate);
        long next = System.nanoTime();
        long seq = 0;
        while (running) {
            long now = System.nanoTime();
            if (now < next) {
                LockSupport.parkNanos(next - now);
                continue;
            }
            // After a blocking send() (metadata wait, full buffer) resume the rate, not a burst.
            if (now - next > 1_000_000_000L) {
                next = now;
            }
            next += period;
            send(producer, topic, seq++);
        }
    }

    private void send(KafkaProducer<String, String> producer, String topic, long seq) {
        long t0 = System.nanoTime();
        Phase phase = phaseAt(t0);
        ProducerRecord<String, String> record = new ProducerRecord<>(topic, "k" + (seq % 4), Long.toString(seq));
        try {
            producer.send(record, (metadata, exception) -> {
                if (exception == null) {
                    long latency = System.nanoTime() - t0;
                    List<Long> l = latencies.get(phase.ordinal());
                    synchronized (l) {
                        l.add(latency);
                    }
                    delivered.incrementAndGet();
                    if (started.compareAndSet(false, true)) {
                        emit("{\"event\":\"started\"}");
                    }
                } else {
                    failed.incrementAndGet();
                    System.err.println("delivery failed for " + seq + ": " + exception);
                }
            });
            sent.incrementAndGet();
        } catch (RuntimeException e) {
            // send() itself refused the record (e.g. metadata not available in max.block.ms).
            sent.incrementAndGet();
            failed.incrementAndGet();
            System.err.println("delivery failed for " + seq + ": " + e);
        }
    }

    private Phase phaseAt(long t) {
        if (!reloaded) {
            return Phase.BEFORE;
        }
        return t - firstReloadNanos < DURING_NANOS ? Phase.DURING : Phase.AFTER;
    }

    private void onReload(String generation) {
        if (reloads.getAndIncrement() == 0) {
            firstReloadNanos = System.nanoTime();
            reloaded = true;
        }
        emit("{\"event\":\"reloaded\",\"generation\":\"" + jsonEscape(generation) + "\"}");
    }

    private String summary() {
        StringBuilder sb = new StringBuilder();
        sb.append("{\"event\":\"summary\",\"sent\":").append(sent.get())
          .append(",\"delivered\":").append(delivered.get())
          .append(",\"failed\":").append(failed.get())
          .append(",\"reloads\":").append(reloads.get())
          .append(",\"latency_ms\":{");
        for (Phase p : Phase.values()) {
            if (p.ordinal() > 0) {
                sb.append(',');
            }
            long[] v;
            List<Long> l = latencies.get(p.ordinal());
            synchronized (l) {
                v = l.stream().mapToLong(Long::longValue).toArray();
            }
            Arrays.sort(v);
            sb.append('"').append(p.name().toLowerCase()).append("\":{\"n\":").append(v.length)
              .append(",\"p50\":").append(percentile(v, 50))
              .append(",\"p99\":").append(percentile(v, 99)).append('}');
        }
        return sb.append("}}").toString();
    }

    /** Nearest-rank percentile in milliseconds (one decimal), null when there is no sample. */
    private static String percentile(long[] sorted, int p) {
        if (sorted.length == 0) {
            return "null";
        }
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        long nanos = sorted[Math.max(0, rank - 1)];
        return String.format(Locale.ROOT, "%.1f", nanos / 1e6);
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
                + " --topic TOPIC [--rate 200] [--no-reload]");
        System.exit(64);
    }
}
