// Parse-only check of Jenkinsfiles, for tests/test_jenkins.py.
//
//   groovy tests/tools/jenkinsfile_lint.groovy FILE...
//
// Prints one JSON object per file:
//   {"file": ..., "ok": true|false, "error": "...",
//    "secrets": [names of password/credentials parameters and of variables
//                bound by withCredentials or environment { X = credentials(...) }],
//    "shell_interpolations": [{"step": "sh", "line": N, "names": [...],
//                              "text": "..."}],
//    "shell_steps": [{"step": "sh", "line": N, "stage": "Launch" | null,
//                     "script": "..."}]   (scripts that are constant strings),
//    "parameters": [{"type": "string" | "booleanParam" | ..., "name": ...,
//                    "default": ..., "choices": [...]}],
//    "environment": {NAME: "constant value"}}   (the environment blocks)
// so that a test can run a pipeline's shell step as Jenkins would: the
// parameters and the environment block as environment variables.
// Compilation stops at the CONVERSION phase (syntax + AST), so pipeline steps
// and classes from Jenkins plugins do not have to be known.  The policy (which
// interpolations are forbidden) is applied by the Python test.
import groovy.json.JsonOutput
import org.codehaus.groovy.ast.CodeVisitorSupport
import org.codehaus.groovy.ast.expr.*
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.CompilerConfiguration
import org.codehaus.groovy.control.Phases
import org.codehaus.groovy.control.SourceUnit

class Collector extends CodeVisitorSupport {
    Set<String> secrets = new LinkedHashSet<String>()
    List<Map> interpolations = []
    List<Map> shellSteps = []
    List<Map> parameters = []
    Map<String, String> environment = [:]
    List<String> stages = []
    int inEnvironment = 0
    static final Set<String> PARAM_STEPS = ['string', 'text', 'booleanParam', 'choice', 'password'] as Set
    static final Set<String> SHELL_STEPS = ['sh', 'bat', 'powershell', 'pwsh'] as Set
    static final Set<String> SECRET_PARAMS = ['password', 'credentials', 'nonStoredPassword'] as Set
    // credential-binding variables that hold a secret (withCredentials)
    static final Set<String> BINDING_VARS = ['variable', 'passwordVariable', 'secretKeyVariable',
                                             'keyFileVariable', 'passphraseVariable',
                                             'tokenVariable'] as Set

    static String constString(Expression e) {
        (e instanceof ConstantExpression && e.value instanceof String) ? (String) e.value : null
    }

    static List<MapEntryExpression> namedArgs(Expression args) {
        List<MapEntryExpression> out = []
        if (args instanceof TupleExpression) {
            for (Expression a : ((TupleExpression) args).expressions) {
                if (a instanceof MapExpression) out.addAll(((MapExpression) a).mapEntryExpressions)
            }
        } else if (args instanceof MapExpression) {
            out.addAll(((MapExpression) args).mapEntryExpressions)
        }
        out
    }

    // every name an interpolated value refers to: X, params.X, env.X, params['X']
    static void names(Expression e, Set<String> out) {
        if (e instanceof VariableExpression) {
            out << ((VariableExpression) e).name
        } else if (e instanceof PropertyExpression) {
            PropertyExpression p = (PropertyExpression) e
            String prop = p.propertyAsString
            if (prop) out << prop
            names(p.objectExpression, out)
        } else if (e instanceof BinaryExpression) {
            BinaryExpression b = (BinaryExpression) e
            String key = constString(b.rightExpression)
            if (key) out << key
            names(b.leftExpression, out)
        } else if (e instanceof MethodCallExpression) {
            MethodCallExpression m = (MethodCallExpression) e
            names(m.objectExpression, out)
            if (m.arguments instanceof TupleExpression) {
                for (Expression a : ((TupleExpression) m.arguments).expressions) names(a, out)
            }
        } else if (e instanceof ConstantExpression) {
            // literal: nothing
        } else if (e != null) {
            out << e.text
        }
    }

    static List<Expression> positionalArgs(Expression args) {
        if (!(args instanceof TupleExpression)) return []
        ((TupleExpression) args).expressions.findAll { !(it instanceof MapExpression) }
    }

    static Object constValue(Expression e) {
        if (e instanceof ConstantExpression) return ((ConstantExpression) e).value
        if (e instanceof ListExpression) return ((ListExpression) e).expressions.collect { constValue(it) }
        null
    }

    void shellStep(String name, MethodCallExpression call) {
        String script = null
        List<Expression> pos = positionalArgs(call.arguments)
        if (pos) script = constString(pos[0])
        for (MapEntryExpression me : namedArgs(call.arguments)) {
            if (constString(me.keyExpression) == 'script') script = constString(me.valueExpression)
        }
        if (script != null)
            shellSteps << [step: name, line: call.lineNumber, stage: stages ? stages[-1] : null,
                           script: script]
    }

    @Override
    void visitMethodCallExpression(MethodCallExpression call) {
        String name = call.methodAsString
        if (name == 'stage' && positionalArgs(call.arguments) && constString(positionalArgs(call.arguments)[0])) {
            stages << constString(positionalArgs(call.arguments)[0])
            try { super.visitMethodCallExpression(call) } finally { stages.remove(stages.size() - 1) }
            return
        }
        if (name == 'environment') {
            inEnvironment++
            try { super.visitMethodCallExpression(call) } finally { inEnvironment-- }
            return
        }
        if (name != null && PARAM_STEPS.contains(name)) {
            Map p = [type: name]
            for (MapEntryExpression me : namedArgs(call.arguments)) {
                String k = constString(me.keyExpression)
                if (k == 'name') p.name = constValue(me.valueExpression)
                if (k == 'defaultValue') p.default = constValue(me.valueExpression)
                if (k == 'choices') p.choices = constValue(me.valueExpression)
            }
            if (p.name instanceof String) parameters << p
        }
        if (name != null) {
            if (SHELL_STEPS.contains(name)) shellStep(name, call)
            if (SECRET_PARAMS.contains(name)) {
                for (MapEntryExpression me : namedArgs(call.arguments)) {
                    if (constString(me.keyExpression) == 'name' && constString(me.valueExpression))
                        secrets << constString(me.valueExpression)
                }
            }
            if (SHELL_STEPS.contains(name)) {
                Expression args = call.arguments
                def finder = new CodeVisitorSupport() {
                    @Override
                    void visitGStringExpression(GStringExpression gs) {
                        Set<String> refs = new LinkedHashSet<String>()
                        for (Expression v : gs.values) names(v, refs)
                        interpolations << [step: name, line: gs.lineNumber > 0 ? gs.lineNumber : call.lineNumber,
                                           names: refs as List, text: gs.text]
                        super.visitGStringExpression(gs)
                    }
                }
                args.visit(finder)
            }
        }
        super.visitMethodCallExpression(call)
    }

    // usernamePassword(passwordVariable: 'P', ...), [$class: ..., secretKeyVariable: 'S']
    @Override
    void visitMapExpression(MapExpression map) {
        for (MapEntryExpression me : map.mapEntryExpressions) {
            if (BINDING_VARS.contains(constString(me.keyExpression)) && constString(me.valueExpression))
                secrets << constString(me.valueExpression)
        }
        super.visitMapExpression(map)
    }

    // environment { DB_PASSWORD = credentials('db') }
    @Override
    void visitBinaryExpression(BinaryExpression b) {
        if (inEnvironment && b.operation.text == '=' && b.leftExpression instanceof VariableExpression
                && constString(b.rightExpression) != null) {
            environment[((VariableExpression) b.leftExpression).name] = constString(b.rightExpression)
        }
        if (b.operation.text == '=' && b.leftExpression instanceof VariableExpression
                && b.rightExpression instanceof MethodCallExpression
                && ((MethodCallExpression) b.rightExpression).methodAsString == 'credentials') {
            secrets << ((VariableExpression) b.leftExpression).name
        }
        super.visitBinaryExpression(b)
    }

    @Override
    void visitDeclarationExpression(DeclarationExpression d) {
        visitBinaryExpression(d)
    }
}

int failures = 0
for (String path : args) {
    Map result = [file: path, ok: false, error: null, secrets: [], shell_interpolations: [],
                  shell_steps: [], parameters: [], environment: [:]]
    try {
        def cu = new CompilationUnit(new CompilerConfiguration())
        SourceUnit su = cu.addSource(new File(path))
        cu.compile(Phases.CONVERSION)
        def module = su.AST
        def c = new Collector()
        module.statementBlock.visit(c)
        for (def m : module.methods) {          // def helper() { ... } in the script
            if (m.code != null) m.code.visit(c)
        }
        for (def cls : module.classes) {        // classes declared in the file
            if (cls.isScript()) continue        // its run() is the statement block
            for (def m : cls.methods) {
                if (m.code != null) m.code.visit(c)
            }
        }
        result.ok = true
        result.secrets = c.secrets as List
        result.shell_interpolations = c.interpolations
        result.shell_steps = c.shellSteps
        result.parameters = c.parameters
        result.environment = c.environment
    } catch (Throwable t) {
        failures++
        result.error = t.message ?: t.toString()
    }
    println JsonOutput.toJson(result)
}
System.exit(failures ? 1 : 0)
