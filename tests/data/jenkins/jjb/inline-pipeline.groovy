// Pipeline script included verbatim into the dwops-sample-inline job (sample.yaml).
pipeline {
    agent { label 'dwops' }
    stages {
        stage('Plan') {
            steps {
                withCredentials([string(credentialsId: 'dwops-token', variable: 'API_TOKEN')]) {
                    sh 'bin/dw-ddl plan < examples/dw-ddl/plan.json'
                }
            }
        }
    }
}
