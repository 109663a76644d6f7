package io.certswap.agent;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.Collections;
import java.util.HexFormat;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;

/** One generation's key store, read through a single resolution of {@code ..data}, checked. */
final class KeyStoreSet {
    static final String KEYSTORE = "client.keystore.p12";
    static final String DATA_LINK = "..data";

    /** How a generation's file is read; tests make it fail. */
    interface FileReader {
        byte[] read(Path file) throws IOException;
    }

    private final String generation;
    private final X509Certificate leaf;
    private final X509ExtendedKeyManager manager;

    private KeyStoreSet(String generation, X509Certificate leaf, X509ExtendedKeyManager manager) {
        this.generation = generation;
        this.leaf = leaf;
        this.manager = manager;
    }

    /** The name {@code ..data} points to now, or null when it is absent. Cheap: one readlink. */
    static String currentGeneration(Path dir) {
        try {
            return Files.readSymbolicLink(dir.resolve(DATA_LINK)).toString();
        } catch (IOException | UnsupportedOperationException e) {
            return null;
        }
    }

    /** The current generation, or null when it cannot be read. */
    static KeyStoreSet read(Path dir, char[] password) {
        String generation = currentGeneration(dir);
        return generation == null ? null : read(dir, generation, password);
    }

    /** Reads {@code dir/generation/client.keystore.p12}; null when missing. */
    static KeyStoreSet read(Path dir, String generation, char[] password) {
        try {
            return load(dir, generation, password, Files::readAllBytes);
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            return null;
        }
    }

    /**
     * Like {@link #read} but says why a generation is not taken: an {@link IOException}
     * when the file could not be read (worth trying again), a
     * {@link GeneralSecurityException} when what was read is wrong (not worth it).
     */
    static KeyStoreSet load(Path dir, String generation, char[] password, FileReader reader)
            throws IOException, GeneralSecurityException {
        // The link's target, not the link: both the name and the file are from one generation.
        Path file = dir.resolve(generation).resolve(KEYSTORE);
        byte[] bytes = reader.read(file);
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try {
            ks.load(new ByteArrayInputStream(bytes), password);
        } catch (IOException e) {
            // Parsed from memory: this is the content (not PKCS#12, or another password).
            throw new GeneralSecurityException("cannot load " + KEYSTORE + ": " + e.getMessage(), e);
        } finally {
            Arrays.fill(bytes, (byte) 0);
        }
        X509Certificate leaf = null;
        for (String alias : Collections.list(ks.aliases())) {
            if (!ks.isKeyEntry(alias)) {
                continue;
            }
            Key key = ks.getKey(alias, password);
            Certificate cert = ks.getCertificate(alias);
            if (!(key instanceof PrivateKey pk) || !(cert instanceof X509Certificate x509)) {
                continue;
            }
            if (!keyMatches(pk, x509)) {
                throw new GeneralSecurityException("the private key does not match the certificate");
            }
            leaf = x509;
        }
        if (leaf == null) {
            throw new GeneralSecurityException("no private key entry");
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(ReloadingKeyManagerFactory.innerAlgorithm());
        kmf.init(ks, password);
        for (KeyManager km : kmf.getKeyManagers()) {
            if (km instanceof X509ExtendedKeyManager x) {
                return new KeyStoreSet(generation, leaf, x);
            }
        }
        throw new GeneralSecurityException("no X.509 key manager");
    }

    /** Signs a probe with the key and verifies it with the certificate's public key. */
    static boolean keyMatches(PrivateKey key, X509Certificate cert) throws GeneralSecurityException {
        String algorithm = switch (key.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            case "Ed25519", "EdDSA" -> "Ed25519";
            case "Ed448" -> "Ed448";
            case "RSASSA-PSS" -> "RSASSA-PSS";
            default -> throw new GeneralSecurityException("unsupported key type " + key.getAlgorithm());
        };
        byte[] probe = "certswap key check".getBytes(StandardCharsets.US_ASCII);
        Signature signer = Signature.getInstance(algorithm);
        signer.initSign(key);
        signer.update(probe);
        byte[] signature = signer.sign();
        Signature verifier = Signature.getInstance(algorithm);
        verifier.initVerify(cert.getPublicKey());
        verifier.update(probe);
        return verifier.verify(signature);
    }

    /** True when the given key store holds this set's leaf certificate. */
    boolean sameLeafAs(KeyStore ks) {
        try {
            for (String alias : Collections.list(ks.aliases())) {
                if (ks.isKeyEntry(alias) && leaf.equals(ks.getCertificate(alias))) {
                    return true;
                }
            }
        } catch (GeneralSecurityException e) {
            return false;
        }
        return false;
    }

    String generation() {
        return generation;
    }

    X509ExtendedKeyManager manager() {
        return manager;
    }

    /** Subject and SHA-256 fingerprint of the leaf: public facts only. */
    String describe() {
        String fp;
        try {
            fp = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(leaf.getEncoded()));
        } catch (GeneralSecurityException e) {
            fp = "?";
        }
        return "subject " + leaf.getSubjectX500Principal().getName() + ", sha256 " + fp;
    }
}
