/*
 * A Java agent that does nothing. LocalStack always starts DynamoDB Local with
 * -javaagent:<dir>/ddb-local-loader-0.1.jar (its own agent only patches the limit of 20 GSIs, which the lab does
 * not use); without that file the JVM fails and LocalStack restarts it in a tight loop. The lab builds this class
 * into that jar at setup (core/engines/java.py).
 */
import java.lang.instrument.Instrumentation;

public final class DdbLocalLoader {
    private DdbLocalLoader() {}

    public static void premain(String arguments, Instrumentation instrumentation) {}
}
