// Runs the functions of the shared pipeline file (jenkins/dwops.groovy)
// outside Jenkins, for tests/test_jenkins.py: the pipeline steps it uses
// (sh, withEnv, error, echo, currentBuild) are stood in for by closures that
// do what Jenkins does (sh runs the script with bash in the workspace, with
// the withEnv variables added), so runOperator really runs an operator.
//
//   groovy tests/tools/jenkins_shared_run.groovy SHARED WORKSPACE CALLS.json
//
// CALLS.json: [{"fn": "runOperator", "args": [...], "user": "jane"|null}, ...]
// Prints one JSON object per call: {"fn", "ok", "value" | "error", "log"}.
import groovy.json.JsonOutput
import groovy.json.JsonSlurper

def (String shared, String workspace, String callsFile) = args as List
def calls = new JsonSlurper().parse(new File(callsFile))

class StepError extends RuntimeException {
    StepError(String m) { super(m) }
}

for (def call : calls) {
    List<Map> envStack = []
    StringBuilder log = new StringBuilder()
    def binding = new Binding()
    binding.setVariable('error', { String m -> throw new StepError(m) })
    binding.setVariable('echo', { String m -> log << m << '\n' })
    binding.setVariable('withEnv', { List vars, Closure body ->
        Map m = [:]
        for (def v : vars) {
            String s = v.toString()
            int i = s.indexOf('=')
            m[s.substring(0, i)] = s.substring(i + 1)
        }
        envStack << m
        try { return body() } finally { envStack.remove(envStack.size() - 1) }
    })
    binding.setVariable('sh', { Map a ->
        File f = File.createTempFile('dwops-sh', '.sh')
        f.text = a.script
        def pb = new ProcessBuilder('bash', f.path).directory(new File(workspace))
        for (Map m : envStack) pb.environment().putAll(m)
        pb.redirectErrorStream(true)
        def p = pb.start()
        String out = p.inputStream.text
        int rc = p.waitFor()
        f.delete()
        log << out
        if (a.returnStatus) return rc
        if (rc != 0) throw new StepError("script returned exit code ${rc}")
        return a.returnStdout ? out : null
    })
    def causes = call.user ? [[userId: call.user]] : []
    binding.setVariable('currentBuild', [getBuildCauses: { String cls ->
        cls == 'hudson.model.Cause$UserIdCause' ? causes : []
    }])

    def script = new GroovyShell(binding).parse(new File(shared))
    def lib = script.run()   // the file ends with `return this`
    Map out = [fn: call.fn, ok: true]
    try {
        out.value = lib."${call.fn}"(*call.args)
    } catch (StepError e) {
        out.ok = false
        out.error = e.message
    }
    out.log = log.toString()
    println JsonOutput.toJson(out)
}
