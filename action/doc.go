// Package action holds maestro's GitHub Action: action.yml (a composite action) and install.sh, which installs the
// requested maestro. There is no Go code to import; action_test.go checks the action's structure and runs its
// install script.
package action
