package io.certswap.agent;

import java.nio.file.Path;
import java.security.InvalidAlgorithmParameterException;
import java.security.KeyStore;
import java.security.KeyStoreException;
import java.security.NoSuchAlgorithmException;
import java.security.UnrecoverableKeyException;
import java.util.Arrays;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.KeyManagerFactorySpi;
import javax.net.ssl.ManagerFactoryParameters;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * A key manager factory that behaves exactly like the JVM's default one, except for a
 * key store whose leaf certificate is the one in the watched directory: that one gets a
 * {@link ReloadingKeyManager}, which follows the directory's {@code ..data} link.
 */
public final class ReloadingKeyManagerFactory extends KeyManagerFactorySpi {
    private static volatile Path dir;
    private static volatile String innerAlgorithm = "PKIX";

    private KeyManager[] managers;

    static void configure(Path watched, String inner) {
        dir = watched;
        innerAlgorithm = inner;
    }

    static String innerAlgorithm() {
        return innerAlgorithm;
    }

    @Override
    protected void engineInit(KeyStore ks, char[] password)
            throws KeyStoreException, NoSuchAlgorithmException, UnrecoverableKeyException {
        KeyManagerFactory inner = KeyManagerFactory.getInstance(innerAlgorithm);
        inner.init(ks, password);
        managers = inner.getKeyManagers();
        Path watched = dir;
        if (ks == null || password == null || watched == null) {
            return;
        }
        KeyStoreSet current = KeyStoreSet.read(watched, password);
        if (current == null || !current.sameLeafAs(ks)) {
            return; // not the directory's key store: left exactly as the JVM made it
        }
        for (int i = 0; i < managers.length; i++) {
            if (managers[i] instanceof X509ExtendedKeyManager) {
                managers[i] = new ReloadingKeyManager(watched, Arrays.copyOf(password, password.length),
                                                      current);
                Log.info("following " + watched + " from generation " + current.generation()
                         + " (" + current.describe() + ")");
                return;
            }
        }
    }

    @Override
    protected void engineInit(ManagerFactoryParameters spec) throws InvalidAlgorithmParameterException {
        try {
            KeyManagerFactory inner = KeyManagerFactory.getInstance(innerAlgorithm);
            inner.init(spec);
            managers = inner.getKeyManagers();
        } catch (NoSuchAlgorithmException e) {
            throw new InvalidAlgorithmParameterException(e);
        }
    }

    @Override
    protected KeyManager[] engineGetKeyManagers() {
        if (managers == null) {
            throw new IllegalStateException("KeyManagerFactory not initialized");
        }
        return managers.clone();
    }
}
