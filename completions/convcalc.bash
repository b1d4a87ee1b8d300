# bash completion for convcalc, generated from its command line by
# `python completions/generate.py` (or `convcalc completions bash`): do not edit.

# Install: `source completions/convcalc.bash` in ~/.bashrc, or copy the file to
# ~/.local/share/bash-completion/completions/convcalc (loaded on demand by bash-completion).

_convcalc_specs() {
    # spec files (*.yaml, *.yml) and the folders that may hold them
    local f IFS=$'\n'
    compopt -o filenames 2>/dev/null
    for f in $(compgen -d -- "$1"); do COMPREPLY+=("$f"); done
    for f in $(compgen -f -- "$1"); do
        case "$f" in *.yaml|*.yml|*.YAML|*.YML) [[ -d "$f" ]] || COMPREPLY+=("$f") ;; esac
    done
}

_convcalc_files() {
    local f IFS=$'\n'
    compopt -o filenames 2>/dev/null
    for f in $(compgen -f -- "$1"); do COMPREPLY+=("$f"); done
}

_convcalc() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="" cmd="" i
    (( COMP_CWORD > 0 )) && prev="${COMP_WORDS[COMP_CWORD-1]}"
    # --option=value: bash splits at '=' (COMP_WORDBREAKS)
    if [[ "$cur" == "=" ]]; then cur=""
    elif [[ "$prev" == "=" ]] && (( COMP_CWORD > 1 )); then
        prev="${COMP_WORDS[COMP_CWORD-2]}"
    fi
    for (( i = 1; i < COMP_CWORD; i++ )); do
        case "${COMP_WORDS[i]}" in
            -*) ;;
            *) cmd="${COMP_WORDS[i]}"; break ;;
        esac
    done
    COMPREPLY=()
    case "$cmd" in
        "")
            if [[ "$cur" == -* ]]; then
                COMPREPLY=( $(compgen -W "--version -V --no-color --quiet -q --install-completion --show-completion --help -h" -- "$cur") )
            else
                COMPREPLY=( $(compgen -W "archs check compare completions explain export flops graph import layers params rf schema shape summary transpose validate" -- "$cur") )
            fi ;;
        archs)
            case "$prev" in
                --format|-f) COMPREPLY=( $(compgen -W "table json csv markdown" -- "$cur") ); return ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=( $(compgen -W "--format -f --help -h" -- "$cur") )
            else
                :
            fi ;;
        check)
            case "$prev" in
                --device|-d) :; return ;;
                --dtype) :; return ;;
                --seed) :; return ;;
                --format|-f) COMPREPLY=( $(compgen -W "table json" -- "$cur") ); return ;;
                --junit-xml) _convcalc_files "$cur"; return ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=( $(compgen -W "--device -d --full --dtype --seed --rf --fvcore --no-fvcore --force --format -f --junit-xml --help -h" -- "$cur") )
            else
                _convcalc_specs "$cur"
            fi ;;
        compare)
            case "$prev" in
                --arch|-a) COMPREPLY=( $(compgen -W "lenet5 alexnet alexnet_groups vgg16 googlenet inception_v3 resnet18 resnet34 resnet50 resnet101 resnet152 resnext50_32x4d densenet121 squeezenet1_1 mobilenet_v1 mobilenet_v2 mobilenet_v3_small mobilenet_v3_large efficientnet_b0 shufflenet_v2_x1_0 regnet_y_400mf convnext_tiny unet dcgan_generator tcn c3d convnext dcgan densenet efficientnet inception inception_v1 lenet mobilenet mobilenet_v3 regnet resnext50 shufflenet shufflenet_v2" -- "$cur") ); return ;;
                --input|-i) :; return ;;
                --set|-s) :; return ;;
                --layer|-l) :; return ;;
                --to) COMPREPLY=( $(compgen -W "grouped depthwise spatial" -- "$cur") ); return ;;
                --groups|-g) :; return ;;
                --kernel|-k) :; return ;;
                --format|-f) COMPREPLY=( $(compgen -W "table json" -- "$cur") ); return ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=( $(compgen -W "--arch -a --input -i --set -s --layer -l --to --groups -g --kernel -k --format -f --help -h" -- "$cur") )
            else
                _convcalc_specs "$cur"
            fi ;;
        completions)
            case "$prev" in
                --output|-o) _convcalc_files "$cur"; return ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=( $(compgen -W "--output -o --help -h" -- "$cur") )
            else
                COMPREPLY=( $(compgen -W "bash zsh fish" -- "$cur") )
            fi ;;
        explain)
            case "$prev" in
                --arch|-a) COMPREPLY=( $(compgen -W "lenet5 alexnet alexnet_groups vgg16 googlenet inception_v3 resnet18 resnet34 resnet50 resnet101 resnet152 resnext50_32x4d densenet121 squeezenet1_1 mobilenet_v1 mobilenet_v2 mobilenet_v3_small mobilenet_v3_large efficientnet_b0 shufflenet_v2_x1_0 regnet_y_400mf convnext_tiny unet dcgan_generator tcn c3d convnext dcgan densenet efficientnet inception inception_v1 lenet mobilenet mobilenet_v3 regnet resnext50 shufflenet shufflenet_v2" -- "$cur") ); return ;;
                --input|-i) :; return ;;
                --set|-s) :; return ;;
                --layer|-l) :; return ;;
                --values) :; return ;;
                --weights) :; return ;;
                --shift) :; return ;;
                --format|-f) COMPREPLY=( $(compgen -W "table json" -- "$cur") ); return ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=( $(compgen -W "--arch -a --input -i --set -s --layer -l --matrix --values --weights --shift --format -f --help -h" -- "$cur") )
            else
                _convcalc_specs "$cur"
            fi ;;
        export)
            case "$prev" in
                --output|-o) _convcalc_files "$cur"; return ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=( $(compgen -W "--output -o --help -h" -- "$cur") )
            else
                COMPREPLY=( $(compgen -W "lenet5 alexnet alexnet_groups vgg16 googlenet inception_v3 resnet18 resnet34 resnet50 resnet101 resnet152 resnext50_32x4d densenet121 squeezenet1_1 mobilenet_v1 mobilenet_v2 mobilenet_v3_small mobilenet_v3_large efficientnet_b0 shufflenet_v2_x1_0 regnet_y_400mf convnext_tiny unet dcgan_generator tcn c3d convnext dcgan densenet efficientnet inception inception_v1 lenet mobilenet mobilenet_v3 regnet resnext50 shufflenet shufflenet_v2" -- "$cur") )
            fi ;;
        flops)
            case "$prev" in
                --arch|-a) COMPREPLY=( $(compgen -W "lenet5 alexnet alexnet_groups vgg16 googlenet inception_v3 resnet18 resnet34 resnet50 resnet101 resnet152 resnext50_32x4d densenet121 squeezenet1_1 mobilenet_v1 mobilenet_v2 mobilenet_v3_small mobilenet_v3_large efficientnet_b0 shufflenet_v2_x1_0 regnet_y_400mf convnext_tiny unet dcgan_generator tcn c3d convnext dcgan densenet efficientnet inception inception_v1 lenet mobilenet mobilenet_v3 regnet resnext50 shufflenet shufflenet_v2" -- "$cur") ); return ;;
                --input|-i) :; return ;;
                --set|-s) :; return ;;
                --format|-f) COMPREPLY=( $(compgen -W "table json csv markdown" -- "$cur") ); return ;;
                --plot) _convcalc_files "$cur"; return ;;
                --module|-m) :; return ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=( $(compgen -W "--arch -a --input -i --set -s --format -f --strict --plot --module -m --help -h" -- "$cur") )
            else
                _convcalc_specs "$cur"
            fi ;;
        graph)
            case "$prev" in
                --arch|-a) COMPREPLY=( $(compgen -W "lenet5 alexnet alexnet_groups vgg16 googlenet inception_v3 resnet18 resnet34 resnet50 resnet101 resnet152 resnext50_32x4d densenet121 squeezenet1_1 mobilenet_v1 mobilenet_v2 mobilenet_v3_small mobilenet_v3_large efficientnet_b0 shufflenet_v2_x1_0 regnet_y_400mf convnext_tiny unet dcgan_generator tcn c3d convnext dcgan densenet efficientnet inception inception_v1 lenet mobilenet mobilenet_v3 regnet resnext50 shufflenet shufflenet_v2" -- "$cur") ); return ;;
                --input|-i) :; return ;;
                --set|-s) :; return ;;
                --format|-f) COMPREPLY=( $(compgen -W "mermaid dot" -- "$cur") ); return ;;
                --direction|-d) COMPREPLY=( $(compgen -W "TB LR" -- "$cur") ); return ;;
                --output|-o) _convcalc_files "$cur"; return ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=( $(compgen -W "--arch -a --input -i --set -s --format -f --direction -d --flat --output -o --help -h" -- "$cur") )
            else
                _convcalc_specs "$cur"
            fi ;;
        import)
            case "$prev" in
                --input|-i) :; return ;;
                --output|-o) _convcalc_files "$cur"; return ;;
                --name) :; return ;;
                --format|-f) COMPREPLY=( $(compgen -W "yaml json" -- "$cur") ); return ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=( $(compgen -W "--input -i --output -o --blocks --flat --against --no-against --name --format -f --help -h" -- "$cur") )
            else
                _convcalc_files "$cur"
            fi ;;
        layers)
            case "$prev" in
                --format|-f) COMPREPLY=( $(compgen -W "table json csv markdown" -- "$cur") ); return ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=( $(compgen -W "--format -f --help -h" -- "$cur") )
            else
                :
            fi ;;
        params)
            case "$prev" in
                --arch|-a) COMPREPLY=( $(compgen -W "lenet5 alexnet alexnet_groups vgg16 googlenet inception_v3 resnet18 resnet34 resnet50 resnet101 resnet152 resnext50_32x4d densenet121 squeezenet1_1 mobilenet_v1 mobilenet_v2 mobilenet_v3_small mobilenet_v3_large efficientnet_b0 shufflenet_v2_x1_0 regnet_y_400mf convnext_tiny unet dcgan_generator tcn c3d convnext dcgan densenet efficientnet inception inception_v1 lenet mobilenet mobilenet_v3 regnet resnext50 shufflenet shufflenet_v2" -- "$cur") ); return ;;
                --input|-i) :; return ;;
                --set|-s) :; return ;;
                --format|-f) COMPREPLY=( $(compgen -W "table json csv markdown" -- "$cur") ); return ;;
                --plot) _convcalc_files "$cur"; return ;;
                --module|-m) :; return ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=( $(compgen -W "--arch -a --input -i --set -s --format -f --strict --plot --module -m --help -h" -- "$cur") )
            else
                _convcalc_specs "$cur"
            fi ;;
        rf)
            case "$prev" in
                --arch|-a) COMPREPLY=( $(compgen -W "lenet5 alexnet alexnet_groups vgg16 googlenet inception_v3 resnet18 resnet34 resnet50 resnet101 resnet152 resnext50_32x4d densenet121 squeezenet1_1 mobilenet_v1 mobilenet_v2 mobilenet_v3_small mobilenet_v3_large efficientnet_b0 shufflenet_v2_x1_0 regnet_y_400mf convnext_tiny unet dcgan_generator tcn c3d convnext dcgan densenet efficientnet inception inception_v1 lenet mobilenet mobilenet_v3 regnet resnext50 shufflenet shufflenet_v2" -- "$cur") ); return ;;
                --input|-i) :; return ;;
                --set|-s) :; return ;;
                --format|-f) COMPREPLY=( $(compgen -W "table json csv markdown" -- "$cur") ); return ;;
                --plot) _convcalc_files "$cur"; return ;;
                --module|-m) :; return ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=( $(compgen -W "--arch -a --input -i --set -s --format -f --strict --plot --module -m --help -h" -- "$cur") )
            else
                _convcalc_specs "$cur"
            fi ;;
        schema)
            case "$prev" in
                --output|-o) _convcalc_files "$cur"; return ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=( $(compgen -W "--output -o --help -h" -- "$cur") )
            else
                :
            fi ;;
        shape)
            case "$prev" in
                --arch|-a) COMPREPLY=( $(compgen -W "lenet5 alexnet alexnet_groups vgg16 googlenet inception_v3 resnet18 resnet34 resnet50 resnet101 resnet152 resnext50_32x4d densenet121 squeezenet1_1 mobilenet_v1 mobilenet_v2 mobilenet_v3_small mobilenet_v3_large efficientnet_b0 shufflenet_v2_x1_0 regnet_y_400mf convnext_tiny unet dcgan_generator tcn c3d convnext dcgan densenet efficientnet inception inception_v1 lenet mobilenet mobilenet_v3 regnet resnext50 shufflenet shufflenet_v2" -- "$cur") ); return ;;
                --input|-i) :; return ;;
                --set|-s) :; return ;;
                --format|-f) COMPREPLY=( $(compgen -W "table json csv markdown" -- "$cur") ); return ;;
                --plot) _convcalc_files "$cur"; return ;;
                --module|-m) :; return ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=( $(compgen -W "--arch -a --input -i --set -s --format -f --strict --plot --module -m --help -h" -- "$cur") )
            else
                _convcalc_specs "$cur"
            fi ;;
        summary)
            case "$prev" in
                --arch|-a) COMPREPLY=( $(compgen -W "lenet5 alexnet alexnet_groups vgg16 googlenet inception_v3 resnet18 resnet34 resnet50 resnet101 resnet152 resnext50_32x4d densenet121 squeezenet1_1 mobilenet_v1 mobilenet_v2 mobilenet_v3_small mobilenet_v3_large efficientnet_b0 shufflenet_v2_x1_0 regnet_y_400mf convnext_tiny unet dcgan_generator tcn c3d convnext dcgan densenet efficientnet inception inception_v1 lenet mobilenet mobilenet_v3 regnet resnext50 shufflenet shufflenet_v2" -- "$cur") ); return ;;
                --input|-i) :; return ;;
                --set|-s) :; return ;;
                --format|-f) COMPREPLY=( $(compgen -W "table json csv markdown" -- "$cur") ); return ;;
                --plot) _convcalc_files "$cur"; return ;;
                --module|-m) :; return ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=( $(compgen -W "--arch -a --input -i --set -s --format -f --strict --plot --module -m --help -h" -- "$cur") )
            else
                _convcalc_specs "$cur"
            fi ;;
        transpose)
            case "$prev" in
                --arch|-a) COMPREPLY=( $(compgen -W "lenet5 alexnet alexnet_groups vgg16 googlenet inception_v3 resnet18 resnet34 resnet50 resnet101 resnet152 resnext50_32x4d densenet121 squeezenet1_1 mobilenet_v1 mobilenet_v2 mobilenet_v3_small mobilenet_v3_large efficientnet_b0 shufflenet_v2_x1_0 regnet_y_400mf convnext_tiny unet dcgan_generator tcn c3d convnext dcgan densenet efficientnet inception inception_v1 lenet mobilenet mobilenet_v3 regnet resnext50 shufflenet shufflenet_v2" -- "$cur") ); return ;;
                --input|-i) :; return ;;
                --set|-s) :; return ;;
                --layer|-l) :; return ;;
                --target|-t) :; return ;;
                --format|-f) COMPREPLY=( $(compgen -W "table json" -- "$cur") ); return ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=( $(compgen -W "--arch -a --input -i --set -s --layer -l --target -t --format -f --help -h" -- "$cur") )
            else
                _convcalc_specs "$cur"
            fi ;;
        validate)
            case "$prev" in
                --arch|-a) COMPREPLY=( $(compgen -W "lenet5 alexnet alexnet_groups vgg16 googlenet inception_v3 resnet18 resnet34 resnet50 resnet101 resnet152 resnext50_32x4d densenet121 squeezenet1_1 mobilenet_v1 mobilenet_v2 mobilenet_v3_small mobilenet_v3_large efficientnet_b0 shufflenet_v2_x1_0 regnet_y_400mf convnext_tiny unet dcgan_generator tcn c3d convnext dcgan densenet efficientnet inception inception_v1 lenet mobilenet mobilenet_v3 regnet resnext50 shufflenet shufflenet_v2" -- "$cur") ); return ;;
                --input|-i) :; return ;;
                --set|-s) :; return ;;
                --device|-d) :; return ;;
                --dtype) :; return ;;
                --seed) :; return ;;
                --rf-layers) COMPREPLY=( $(compgen -W "changed last all" -- "$cur") ); return ;;
                --format|-f) COMPREPLY=( $(compgen -W "table json" -- "$cur") ); return ;;
                --against) :; return ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=( $(compgen -W "--arch -a --input -i --set -s --device -d --dtype --seed --rf --rf-layers --flops --no-flops --fvcore --no-fvcore --force --all --format -f --against --help -h" -- "$cur") )
            else
                _convcalc_specs "$cur"
            fi ;;
    esac
}

complete -F _convcalc convcalc
