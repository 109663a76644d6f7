package io.certswap.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.Security;
import java.security.cert.X509Certificate;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The key manager on real PKCS#12 files made by the openssl CLI, laid out as certswap
 * lays out its output (generation directories and a {@code ..data} link).
 */
class ReloadingKeyManagerTest {
    private static final String PASSWORD = "test-password";
    private static final String[] RSA = {"RSA"};

    @TempDir Path tmp;

    @BeforeAll
    static void install() {
        if (Security.getProvider("Certswap") == null) {
            Security.addProvider(new CertswapProvider());
        }
    }

    private static void run(Path cwd, String... argv) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(argv).directory(cwd.toFile()).redirectErrorStream(true)
                        .redirectOutput(cwd.resolve("openssl.log").toFile()).start();
        assertEquals(0, p.waitFor(), "openssl " + String.join(" ", argv));
    }

    /** A self-signed key pair as key.pem/cert.pem in dir, with the given CN. */
    private static void keyPair(Path dir, String cn) throws Exception {
        Files.createDirectories(dir);
        run(dir, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=" + cn, "-keyout", "key.pem", "-out", "cert.pem");
    }

    /** dir/name/client.keystore.p12 with the key of keyDir and the certificate of certDir. */
    private static void generation(Path dir, String name, Path keyDir, Path certDir) throws Exception {
        Path gen = Files.createDirectories(dir.resolve(name));
        run(gen, "openssl", "pkcs12", "-export", "-name", "service",
            "-inkey", keyDir.resolve("key.pem").toString(), "-in", certDir.resolve("cert.pem").toString(),
            "-passout", "pass:" + PASSWORD, "-out", KeyStoreSet.KEYSTORE);
    }

    private static void point(Path dir, String name) throws IOException {
        Path tmpLink = dir.resolve("..data_tmp");
        Files.deleteIfExists(tmpLink);
        Files.createSymbolicLink(tmpLink, Path.of(name));
        Files.move(tmpLink, dir.resolve(KeyStoreSet.DATA_LINK), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private static KeyStore load(Path file) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(file)) {
            ks.load(in, PASSWORD.toCharArray());
        }
        return ks;
    }

    /** What kafka-clients' default engine factory does: the default algorithm, init(ks, pw). */
    private static KeyManager appKeyManager(Path dir, Path keystore) throws Exception {
        ReloadingKeyManagerFactory.configure(dir, "SunX509");
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(CertswapProvider.ALGORITHM);
        kmf.init(load(keystore), PASSWORD.toCharArray());
        return kmf.getKeyManagers()[0];
    }

    private static String cn(X509Certificate[] chain) {
        assertNotNull(chain);
        return chain[0].getSubjectX500Principal().getName();
    }

    @Test
    void newHandshakeGetsNewCertificateAndOneInProgressKeepsItsOwn() throws Exception {
        Path dir = tmp.resolve("creds");
        keyPair(tmp.resolve("a"), "old");
        keyPair(tmp.resolve("b"), "new");
        generation(dir, "..gen1", tmp.resolve("a"), tmp.resolve("a"));
        point(dir, "..gen1");
        X509ExtendedKeyManager km = (X509ExtendedKeyManager) appKeyManager(
            dir, dir.resolve("..data").resolve(KeyStoreSet.KEYSTORE));
        assertTrue(km instanceof ReloadingKeyManager);

        String inProgress = km.chooseEngineClientAlias(RSA, null, null);
        assertEquals("CN=old", cn(km.getCertificateChain(inProgress)));

        generation(dir, "..gen2", tmp.resolve("b"), tmp.resolve("b"));
        point(dir, "..gen2");
        String fresh = km.chooseEngineClientAlias(RSA, null, null);
        assertEquals("CN=new", cn(km.getCertificateChain(fresh)));
        assertTrue(KeyStoreSet.keyMatches(km.getPrivateKey(fresh), km.getCertificateChain(fresh)[0]));
        // The handshake that chose before the swap finishes with its own certificate and key.
        assertEquals("CN=old", cn(km.getCertificateChain(inProgress)));
        assertTrue(KeyStoreSet.keyMatches(km.getPrivateKey(inProgress), km.getCertificateChain(inProgress)[0]));
    }

    @Test
    void mismatchedKeyIsRefusedAndPreviousKeepsServing() throws Exception {
        Path dir = tmp.resolve("creds");
        keyPair(tmp.resolve("a"), "old");
        keyPair(tmp.resolve("b"), "new");
        generation(dir, "..gen1", tmp.resolve("a"), tmp.resolve("a"));
        point(dir, "..gen1");
        X509ExtendedKeyManager km = (X509ExtendedKeyManager) appKeyManager(
            dir, dir.resolve("..data").resolve(KeyStoreSet.KEYSTORE));

        // openssl refuses to export a key with another certificate, so the store is built in Java.
        KeyStore a = load(dir.resolve("..gen1").resolve(KeyStoreSet.KEYSTORE));
        generation(dir, "..genb", tmp.resolve("b"), tmp.resolve("b"));
        KeyStore b = load(dir.resolve("..genb").resolve(KeyStoreSet.KEYSTORE));
        KeyStore bad = KeyStore.getInstance("PKCS12");
        bad.load(null, null);
        bad.setKeyEntry("service", a.getKey("service", PASSWORD.toCharArray()), PASSWORD.toCharArray(),
                        b.getCertificateChain("service"));
        Path badGen = Files.createDirectories(dir.resolve("..gen2"));
        try (var out = Files.newOutputStream(badGen.resolve(KeyStoreSet.KEYSTORE))) {
            bad.store(out, PASSWORD.toCharArray());
        }
        point(dir, "..gen2");
        assertEquals("CN=old", cn(km.getCertificateChain(km.chooseEngineClientAlias(RSA, null, null))));

        Files.writeString(Files.createDirectories(dir.resolve("..gen3")).resolve(KeyStoreSet.KEYSTORE), "junk");
        point(dir, "..gen3");
        assertEquals("CN=old", cn(km.getCertificateChain(km.chooseEngineClientAlias(RSA, null, null))));

        generation(dir, "..gen4", tmp.resolve("b"), tmp.resolve("b"));
        point(dir, "..gen4");
        assertEquals("CN=new", cn(km.getCertificateChain(km.chooseEngineClientAlias(RSA, null, null))));
    }

    @Test
    void generationThatCouldNotBeReadIsReadAgainASecondLater() throws Exception {
        Path dir = tmp.resolve("creds");
        keyPair(tmp.resolve("a"), "old");
        keyPair(tmp.resolve("b"), "new");
        generation(dir, "..gen1", tmp.resolve("a"), tmp.resolve("a"));
        point(dir, "..gen1");
        AtomicBoolean failing = new AtomicBoolean(true);
        AtomicInteger reads = new AtomicInteger();
        AtomicLong nanos = new AtomicLong(42);
        KeyStoreSet.FileReader flaky = file -> {
            reads.incrementAndGet();
            if (failing.get()) {
                throw new IOException("Too many open files");
            }
            return Files.readAllBytes(file);
        };
        KeyStoreSet initial = KeyStoreSet.read(dir, PASSWORD.toCharArray());
        ReloadingKeyManager km = new ReloadingKeyManager(dir, PASSWORD.toCharArray(), initial, flaky,
                                                         nanos::get);

        generation(dir, "..gen2", tmp.resolve("b"), tmp.resolve("b"));
        point(dir, "..gen2");
        assertEquals("CN=old", cn(km.getCertificateChain(km.chooseEngineClientAlias(RSA, null, null))));
        assertEquals(1, reads.get());

        failing.set(false);
        // Within the second: not read again, however many handshakes.
        nanos.addAndGet(ReloadingKeyManager.RETRY_NANOS - 1);
        assertEquals("CN=old", cn(km.getCertificateChain(km.chooseEngineClientAlias(RSA, null, null))));
        assertEquals(1, reads.get());
        // A second after the failure, the next handshake reads it and takes it.
        nanos.addAndGet(1);
        assertEquals("CN=new", cn(km.getCertificateChain(km.chooseEngineClientAlias(RSA, null, null))));
        assertEquals(2, reads.get());
    }

    @Test
    void keyStoreNotFromTheDirectoryIsLeftAlone() throws Exception {
        Path dir = tmp.resolve("creds");
        keyPair(tmp.resolve("a"), "dir");
        keyPair(tmp.resolve("c"), "other");
        generation(dir, "..gen1", tmp.resolve("a"), tmp.resolve("a"));
        point(dir, "..gen1");
        generation(tmp, "elsewhere", tmp.resolve("c"), tmp.resolve("c"));
        KeyManager km = appKeyManager(dir, tmp.resolve("elsewhere").resolve(KeyStoreSet.KEYSTORE));
        assertFalse(km instanceof ReloadingKeyManager);
        X509ExtendedKeyManager x = (X509ExtendedKeyManager) km;
        assertEquals("CN=other", cn(x.getCertificateChain(x.chooseEngineClientAlias(RSA, null, null))));
    }
}
