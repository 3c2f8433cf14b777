/**
 * Fetches the runtime jars of a Java server (Kafka broker, Hazelcast member) with Maven into a
 * cache folder outside git: `${SOCKETIO4TS_CACHE:-$HOME/.cache/socketio4ts}/jars/<name>-<version>/`.
 *
 * A tiny `pom.xml` is generated there and `mvn dependency:copy-dependencies` copies every runtime
 * jar into `lib/`. A marker file, written only after a successful copy, records which artifacts
 * the folder holds, so a second call is free and a changed artifact list fetches again.
 *
 * @module
 */

/** One Maven artifact to put on the class path (with its runtime dependencies). */
export interface MavenArtifact {
  /** Maven group id, e.g. `org.apache.kafka`. */
  readonly groupId: string;
  /** Maven artifact id, e.g. `kafka_2.13`. */
  readonly artifactId: string;
  /** Exact version. */
  readonly version: string;
}

/** A folder of jars ready for `java -cp`. */
export interface JarSet {
  /** Folder that holds `pom.xml`, the marker and `lib/`. */
  readonly dir: string;
  /** Folder of jars. */
  readonly libDir: string;
  /** Class path for `java -cp` (`<libDir>/*`). */
  readonly classpath: string;
  /** Whether this call ran Maven (false when the cache was already complete). */
  readonly downloaded: boolean;
  /** Seconds Maven took (0 when nothing was fetched). */
  readonly seconds: number;
}

/** Version of the dependency plugin, pinned so Maven does not look up the newest one. */
const DEPENDENCY_PLUGIN_VERSION = "3.8.1";
const MARKER = ".complete";

/** Root of the download cache, `${SOCKETIO4TS_CACHE:-$HOME/.cache/socketio4ts}`. */
export function cacheRoot(): string {
  const explicit = Deno.env.get("SOCKETIO4TS_CACHE");
  if (explicit !== undefined && explicit !== "") return explicit;
  const home = Deno.env.get("HOME") ?? "/tmp";
  return `${home}/.cache/socketio4ts`;
}

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** Builds the throw-away project whose only purpose is to name the dependencies. */
export function pomFor(name: string, artifacts: readonly MavenArtifact[]): string {
  const deps = artifacts.map((a) =>
    [
      "    <dependency>",
      `      <groupId>${escapeXml(a.groupId)}</groupId>`,
      `      <artifactId>${escapeXml(a.artifactId)}</artifactId>`,
      `      <version>${escapeXml(a.version)}</version>`,
      "    </dependency>",
    ].join("\n")
  ).join("\n");
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.socketio4ts.services</groupId>
  <artifactId>${escapeXml(name)}-runtime</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
${deps}
  </dependencies>
  <build>
    <pluginManagement>
      <plugins>
        <plugin>
          <groupId>org.apache.maven.plugins</groupId>
          <artifactId>maven-dependency-plugin</artifactId>
          <version>${DEPENDENCY_PLUGIN_VERSION}</version>
        </plugin>
      </plugins>
    </pluginManagement>
  </build>
</project>
`;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function hasJars(dir: string): Promise<boolean> {
  try {
    for await (const entry of Deno.readDir(dir)) if (entry.name.endsWith(".jar")) return true;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return false;
}

/**
 * Makes sure the runtime jars of `artifacts` are in the cache and returns where they are.
 *
 * `name` and `version` name the cache folder (`<name>-<version>`). Prints how long the download
 * took when Maven ran. Throws with Maven's output when Maven fails.
 */
export async function ensureJars(
  name: string,
  version: string,
  artifacts: readonly MavenArtifact[],
): Promise<JarSet> {
  const dir = `${cacheRoot()}/jars/${name}-${version}`;
  const libDir = `${dir}/lib`;
  const classpath = `${libDir}/*`;
  const wanted = JSON.stringify(artifacts.map((a) => `${a.groupId}:${a.artifactId}:${a.version}`));
  if ((await readText(`${dir}/${MARKER}`)) === wanted && await hasJars(libDir)) {
    return { dir, libDir, classpath, downloaded: false, seconds: 0 };
  }
  await Deno.mkdir(dir, { recursive: true });
  // A private output folder per process, renamed into place, so two callers never mix files.
  const tmpLib = `${dir}/lib.tmp-${Deno.pid}`;
  await Deno.remove(tmpLib, { recursive: true }).catch(() => {});
  await Deno.writeTextFile(`${dir}/pom.xml`, pomFor(name, artifacts));
  console.log(`[${name}] fetching ${name} ${version} jars with Maven into ${libDir} ...`);
  const started = performance.now();
  const out = await new Deno.Command("mvn", {
    args: [
      "-q",
      "-B",
      "-f",
      `${dir}/pom.xml`,
      "dependency:copy-dependencies",
      `-DoutputDirectory=${tmpLib}`,
      "-DincludeScope=runtime",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  if (!out.success) {
    await Deno.remove(tmpLib, { recursive: true }).catch(() => {});
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    throw new Error(`Maven could not fetch ${name} ${version} (exit ${out.code}):\n${text}`);
  }
  await Deno.remove(`${dir}/${MARKER}`).catch(() => {});
  await Deno.remove(libDir, { recursive: true }).catch(() => {});
  await Deno.rename(tmpLib, libDir);
  await Deno.writeTextFile(`${dir}/${MARKER}`, wanted);
  let count = 0;
  for await (const entry of Deno.readDir(libDir)) if (entry.name.endsWith(".jar")) count++;
  console.log(`[${name}] fetched ${count} jars in ${seconds.toFixed(1)} s`);
  return { dir, libDir, classpath, downloaded: true, seconds };
}
