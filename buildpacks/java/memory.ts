/**
 * The `.profile.d` script that sizes the JVM's heap from the dyno's memory
 * limit, as Heroku's `jvmcommon.sh` does: it reads the cgroup limit (v2's
 * `memory.max`, else v1's `memory.limit_in_bytes`) and, when there is a
 * real limit and `JAVA_TOOL_OPTIONS` sets no heap size of its own, adds
 * `-XX:MaxRAMPercentage` (and smaller thread stacks and fewer JIT threads
 * on small dynos). With no limit, or "max", it leaves the JVM's defaults.
 */

/** The cgroup files read, in order (v2, then v1). */
export const CGROUP_MEMORY_FILES = ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes'] as const;

/** Limits at or under this many MiB count as a small dyno. */
export const SMALL_DYNO_MIB = 512;

/** The memory options for a limit of `mib` MiB (what the script computes, for docs and tests). */
export function memoryOptions(mib: number): string {
  return mib <= SMALL_DYNO_MIB ? '-XX:MaxRAMPercentage=60.0 -Xss512k -XX:CICompilerCount=2' : '-XX:MaxRAMPercentage=80.0';
}

/** The script; `files` replaces the cgroup files (tests point it at a fake one). */
export function jvmProfileScript(files: readonly string[] = CGROUP_MEMORY_FILES): string {
  return `# Written by slugc: JVM memory defaults sized from the dyno's memory limit (cgroup), unless JAVA_TOOL_OPTIONS sets a heap size.
slugc_jvm_limit=""
for slugc_f in ${files.map((f) => `'${f.replace(/'/g, `'\\''`)}'`).join(' ')}; do
  if [ -r "$slugc_f" ]; then slugc_jvm_limit=$(head -n 1 "$slugc_f" 2>/dev/null); break; fi
done
case "$slugc_jvm_limit" in
  ''|max|*[!0-9]*) ;;
  ????????????????*) ;; # 16 digits or more: cgroup v1's "no limit"
  *)
    slugc_jvm_mib=$((slugc_jvm_limit / 1048576))
    case " $JAVA_TOOL_OPTIONS " in
      *-Xmx*|*MaxRAMPercentage*|*MaxRAM=*) ;;
      *)
        if [ "$slugc_jvm_mib" -le ${SMALL_DYNO_MIB} ]; then slugc_jvm_opts="${memoryOptions(SMALL_DYNO_MIB)}"; else slugc_jvm_opts="${memoryOptions(SMALL_DYNO_MIB + 1)}"; fi
        export JAVA_TOOL_OPTIONS="\${JAVA_TOOL_OPTIONS:+$JAVA_TOOL_OPTIONS }$slugc_jvm_opts"
        ;;
    esac
    ;;
esac
unset slugc_f slugc_jvm_limit slugc_jvm_mib slugc_jvm_opts
`;
}
