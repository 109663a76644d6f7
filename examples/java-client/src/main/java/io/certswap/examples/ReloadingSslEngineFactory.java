package io.certswap.examples;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotLinkException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManagerFactory;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.SslConfigs;
import org.apache.kafka.common.security.auth.SslEngineFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Kafka {@link SslEngineFactory} (KIP-519, {@code ssl.engine.factory.class}) that
 * reads the PKCS#12 keystore and truststore certswap writes, and picks up a rotated
 * certificate without recreating the Kafka client.
 *
 * <p>Why this works: kafka-clients builds the {@code SslEngineFactory} once per client
 * (in {@code SslFactory.configure}) and then asks it for a fresh {@link SSLEngine} for
 * every new connection ({@link #createClientSslEngine}). The built-in factory loads the
 * keystore once, so a long-running producer or consumer keeps presenting the certificate
 * it was started with. This one checks, on every engine it hands out, whether certswap
 * has swapped the credential directory since the last load; one {@code readlink(2)} of
 * {@code DIR/..data} is enough, because certswap (like kubelet's AtomicWriter) replaces
 * the whole generation by renaming that one symlink. If it changed, the SSLContext is
 * rebuilt from the new files; if that fails, the old context stays in use and a warning
 * is logged, so a bad file never breaks new connections.
 *
 * <p>Limit: connections that are already established keep the certificate they
 * authenticated with until they reconnect (broker restart, idle timeout
 * {@code connections.max.idle.ms}, network error). Only new connections present the
 * new certificate.
 *
 * <p>Client configuration (the keys are passed through to {@link #configure}; Kafka hands
 * the engine factory every entry of the client config, unknown keys included):
 * <pre>
 * security.protocol=SSL
 * ssl.engine.factory.class=io.certswap.examples.ReloadingSslEngineFactory
 * certswap.keystore.location=/etc/kafka-creds/client.keystore.p12
 * certswap.truststore.location=/etc/kafka-creds/client.truststore.p12
 * certswap.password.file=/run/secrets/store-pass
 * </pre>
 * {@code ssl.protocol}, {@code ssl.enabled.protocols}, {@code ssl.cipher.suites} and
 * {@code ssl.endpoint.identification.algorithm} keep their usual meaning.
 */
public class ReloadingSslEngineFactory implements SslEngineFactory {
    public static final String KEYSTORE_LOCATION = "certswap.keystore.location";
    public static final String TRUSTSTORE_LOCATION = "certswap.truststore.location";
    public static final String PASSWORD_FILE = "certswap.password.file";

    private static final Logger log = LoggerFactory.getLogger(ReloadingSslEngineFactory.class);
    /** A set that failed to load is retried at most this often (not on every connection). */
    private static final long RETRY_FAILED_NANOS = 5_000_000_000L;

    private static volatile Consumer<String> reloadListener;

    /**
     * Called with the new generation (the {@code ..data} target, e.g.
     * {@code ..2026_11_24_10_00_00.123456789}) whenever a factory loaded a new credential
     * set after its first load. Kafka instantiates the factory by reflection, hence static.
     */
    public static void setReloadListener(Consumer<String> listener) {
        reloadListener = listener;
    }

    /** One loaded credential set. */
    private static final class Loaded {
        final SSLContext context;
        final KeyStore keystore;
        final KeyStore truststore;
        final String version;     // what the cheap check compares
        final String generation;  // ..data target, for messages

        Loaded(SSLContext context, KeyStore keystore, KeyStore truststore, String version, String generation) {
            this.context = context;
            this.keystore = keystore;
            this.truststore = truststore;
            this.version = version;
            this.generation = generation;
        }
    }

    private Map<String, Object> configs = Collections.emptyMap();
    private Path keystorePath;
    private Path truststorePath;
    private Path passwordFile;
    private Path dataLink;  // DIR/..data
    private String protocol;
    private String[] enabledProtocols;
    private String[] cipherSuites;
    private String clientAuth;

    private volatile Loaded current;
    private String failedVersion;
    private long failedAt;

    @Override
    public void configure(Map<String, ?> configs) {
        this.configs = Collections.unmodifiableMap(new HashMap<>(configs));
        keystorePath = Paths.get(required(configs, KEYSTORE_LOCATION));
        truststorePath = Paths.get(required(configs, TRUSTSTORE_LOCATION));
        passwordFile = Paths.get(required(configs, PASSWORD_FILE));
        // DIR/client.keystore.p12 -> ..data/client.keystore.p12; the generation is DIR/..data.
        Path dir = keystorePath.toAbsolutePath().getParent();
        if (dir.getFileName() != null && dir.getFileName().toString().equals("..data")) {
            dir = dir.getParent();
        }
        dataLink = dir.resolve("..data");

        Object p = configs.get(SslConfigs.SSL_PROTOCOL_CONFIG);
        protocol = p == null ? "TLSv1.3" : p.toString();
        enabledProtocols = stringList(configs.get(SslConfigs.SSL_ENABLED_PROTOCOLS_CONFIG));
        cipherSuites = stringList(configs.get(SslConfigs.SSL_CIPHER_SUITES_CONFIG));
        Object ca = configs.get("ssl.client.auth");
        clientAuth = ca == null ? "none" : ca.toString();

        // The first load must succeed: without credentials the client cannot work.
        try {
            current = load(version());
        } catch (IOException | GeneralSecurityException e) {
            throw new KafkaException("certswap: cannot load " + keystorePath + " / " + truststorePath
                    + ": " + e, e);
        }
        log.info("certswap: loaded client credentials, generation {}", current.generation);
    }

    @Override
    public SSLEngine createClientSslEngine(String peerHost, int peerPort, String endpointIdentification) {
        SSLEngine engine = maybeReload().context.createSSLEngine(peerHost, peerPort);
        engine.setUseClientMode(true);
        SSLParameters params = engine.getSSLParameters();
        // Verify the broker's name (SAN DNS/IP) against peerHost. Kafka passes
        // ssl.endpoint.identification.algorithm here ("https" by default); only an
        // explicitly empty value turns the check off, as with the built-in factory.
        params.setEndpointIdentificationAlgorithm(
                endpointIdentification == null ? "HTTPS" : endpointIdentification.isEmpty() ? null : endpointIdentification);
        applyProtocols(params);
        engine.setSSLParameters(params);
        return engine;
    }

    @Override
    public SSLEngine createServerSslEngine(String peerHost, int peerPort) {
        SSLEngine engine = maybeReload().context.createSSLEngine(peerHost, peerPort);
        engine.setUseClientMode(false);
        SSLParameters params = engine.getSSLParameters();
        applyProtocols(params);
        if (clientAuth.equalsIgnoreCase("required")) {
            params.setNeedClientAuth(true);
        } else if (clientAuth.equalsIgnoreCase("requested")) {
            params.setWantClientAuth(true);
        }
        engine.setSSLParameters(params);
        return engine;
    }

    /**
     * Only asked on dynamic reconfiguration (brokers). The files themselves are reloaded
     * by this factory, so a rebuild is needed only when the configured paths change.
     */
    @Override
    public boolean shouldBeRebuilt(Map<String, Object> nextConfigs) {
        for (String key : reconfigurableConfigs()) {
            if (!Objects.equals(str(configs.get(key)), str(nextConfigs.get(key)))) {
                return true;
            }
        }
        return false;
    }

    @Override
    public Set<String> reconfigurableConfigs() {
        return Set.of(KEYSTORE_LOCATION, TRUSTSTORE_LOCATION, PASSWORD_FILE);
    }

    @Override
    public KeyStore keystore() {
        Loaded l = current;
        return l == null ? null : l.keystore;
    }

    @Override
    public KeyStore truststore() {
        Loaded l = current;
        return l == null ? null : l.truststore;
    }

    @Override
    public void close() {
        current = null;
    }

    // ---------------------------------------------------------------------------------

    /** The cheap check, run for every new connection: one readlink, a load only on change. */
    private Loaded maybeReload() {
        Loaded cur = current;
        if (cur == null) {
            throw new IllegalStateException("certswap: SslEngineFactory used after close()");
        }
        String v;
        try {
            v = version();
        } catch (IOException e) {
            log.warn("certswap: cannot check {} ({}); keeping generation {}", dataLink, e, cur.generation);
            return cur;
        }
        if (v.equals(cur.version)) {
            return cur;
        }
        synchronized (this) {
            cur = current;
            if (cur == null || v.equals(cur.version)) {
                return cur;
            }
            if (v.equals(failedVersion) && System.nanoTime() - failedAt < RETRY_FAILED_NANOS) {
                return cur;
            }
            try {
                Loaded next = load(v);
                current = next;
                failedVersion = null;
                log.info("certswap: reloaded client credentials, generation {} -> {}", cur.generation, next.generation);
                Consumer<String> listener = reloadListener;
                if (listener != null) {
                    listener.accept(next.generation);
                }
                return next;
            } catch (IOException | GeneralSecurityException | RuntimeException e) {
                failedVersion = v;
                failedAt = System.nanoTime();
                log.warn("certswap: cannot load the new credentials ({}); keeping generation {} for new connections",
                        e.toString(), cur.generation);
                return cur;
            }
        }
    }

    /**
     * What identifies the credential set on disk: the target of DIR/..data for a
     * certswap/AtomicWriter directory, otherwise (plain files) the real paths,
     * modification times and sizes of both stores.
     */
    private String version() throws IOException {
        try {
            return "gen:" + Files.readSymbolicLink(dataLink);
        } catch (NotLinkException | NoSuchFileException e) {
            return "files:" + fileVersion(keystorePath) + "|" + fileVersion(truststorePath);
        }
    }

    private static String fileVersion(Path p) throws IOException {
        Path real = p.toRealPath();
        BasicFileAttributes a = Files.readAttributes(real, BasicFileAttributes.class);
        return real + "@" + a.lastModifiedTime().toMillis() + "/" + a.size();
    }

    /**
     * Loads both stores and builds an SSLContext. The files are opened through the public
     * names; if ..data moved while they were read, they may come from two generations,
     * so the load is repeated.
     */
    private Loaded load(String expectedVersion) throws IOException, GeneralSecurityException {
        String v = expectedVersion;
        for (int attempt = 0; ; attempt++) {
            char[] password = readPassword();
            try {
                KeyStore ks = KeyStore.getInstance("PKCS12");
                try (InputStream in = Files.newInputStream(keystorePath)) {
                    ks.load(in, password);
                }
                KeyStore ts = KeyStore.getInstance("PKCS12");
                try (InputStream in = Files.newInputStream(truststorePath)) {
                    ts.load(in, password);
                }
                String after = version();
                if (!after.equals(v) && attempt < 3) {
                    v = after;
                    continue;
                }
                if (!hasKeyEntry(ks)) {
                    throw new GeneralSecurityException(keystorePath + " holds no private key entry");
                }
                if (ts.size() == 0) {
                    throw new GeneralSecurityException(truststorePath + " holds no trusted certificate");
                }
                KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(ks, password);
                TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(ts);
                SSLContext ctx = SSLContext.getInstance(protocol);
                ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), new SecureRandom());
                return new Loaded(ctx, ks, ts, v, generationName(v));
            } catch (NoSuchFileException e) {
                // certswap removed an old generation between readlink and open: retry with the new one.
                if (attempt >= 3) {
                    throw e;
                }
                v = version();
            } finally {
                Arrays.fill(password, '\0');
            }
        }
    }

    private static boolean hasKeyEntry(KeyStore ks) throws GeneralSecurityException {
        for (String alias : Collections.list(ks.aliases())) {
            if (ks.isKeyEntry(alias)) {
                return true;
            }
        }
        return false;
    }

    private String generationName(String version) {
        if (version.startsWith("gen:")) {
            return Paths.get(version.substring(4)).getFileName().toString();
        }
        return version.substring("files:".length());
    }

    /** The password file's content without the trailing newline. */
    private char[] readPassword() throws IOException {
        String s = new String(Files.readAllBytes(passwordFile), StandardCharsets.UTF_8);
        int end = s.length();
        while (end > 0 && (s.charAt(end - 1) == '\n' || s.charAt(end - 1) == '\r')) {
            end--;
        }
        return s.substring(0, end).toCharArray();
    }

    private void applyProtocols(SSLParameters params) {
        if (enabledProtocols != null) {
            params.setProtocols(enabledProtocols);
        }
        if (cipherSuites != null) {
            params.setCipherSuites(cipherSuites);
        }
    }

    private static String required(Map<String, ?> configs, String key) {
        Object v = configs.get(key);
        if (v == null || v.toString().isBlank()) {
            throw new ConfigException(key + " is required by " + ReloadingSslEngineFactory.class.getName());
        }
        return v.toString();
    }

    private static String[] stringList(Object v) {
        if (v instanceof List && !((List<?>) v).isEmpty()) {
            return ((List<?>) v).stream().map(Object::toString).toArray(String[]::new);
        }
        if (v instanceof String && !((String) v).isBlank()) {
            return Arrays.stream(((String) v).split(",")).map(String::trim).toArray(String[]::new);
        }
        return null;
    }

    private static String str(Object o) {
        return o == null ? null : o.toString();
    }
}
