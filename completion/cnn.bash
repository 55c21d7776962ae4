# cnn.bash - bash completion for cnn(1): the commands; each command's
# options; the values of --arch (its presets), --optimizer, --schedule,
# --impl and --split; directories for --data; file names for the options
# that take a FILE and for predict's IMAGE arguments. Both "--opt value"
# and "--opt=value" are completed.
#
# Installed as share/bash-completion/completions/cnn, where bash-completion
# finds it the first time cnn is completed; without bash-completion,
# source this file from ~/.bashrc. tests/completion_test.sh checks it
# against the options each command's --help lists.

# The options of command $1, and of those the ones that take no value.
_cnn_options()
{
    case $1 in
    train)
        echo --data --classes --arch --epochs --batch --lr --optimizer --momentum \
            --nesterov --beta1 --beta2 --eps --weight-decay --clip-norm --schedule \
            --gamma --step-epochs --lr-min --warmup-epochs --val --save-best \
            --patience --seed --threads --impl --limit --save --save-every --resume \
            --log --help ;;
    eval) echo --model --data --split --batch --threads --json --help ;;
    predict) echo --model --threads --json --help ;;
    filters) echo --model --out --scale --help ;;
    esac
}
_cnn_flags=" --nesterov --json --help "

# COMPREPLY for the value of option $1, the word so far being $2, each
# answer prefixed with $3 (for --opt=value in a single word).
_cnn_value()
{
    local opt=$1 cur=$2 pre=$3 values
    case $opt in
    --arch) values="seed lenet5" ;;
    --optimizer) values="sgd adam adamw" ;;
    --schedule) values="constant step cosine" ;;
    --impl) values="ref blas" ;;
    --split) values="test train" ;;
    --data)
        compopt -o filenames 2> /dev/null
        mapfile -t COMPREPLY < <(compgen -d -P "$pre" -- "$cur")
        return ;;
    --classes | --model | --out | --save | --save-best | --resume | --log)
        compopt -o filenames 2> /dev/null
        mapfile -t COMPREPLY < <(compgen -f -P "$pre" -- "$cur")
        return ;;
    *) COMPREPLY=() # a number: nothing to offer
        return ;;
    esac
    mapfile -t COMPREPLY < <(compgen -W "$values" -P "$pre" -- "$cur")
}

_cnn()
{
    local cword=$COMP_CWORD cur=${COMP_WORDS[COMP_CWORD]} prev="" cmd
    COMPREPLY=()
    [ "$cword" -gt 0 ] && prev=${COMP_WORDS[cword - 1]}
    if [ "$cword" -eq 1 ]; then
        case $cur in
        -*) mapfile -t COMPREPLY < <(compgen -W "--help --version" -- "$cur") ;;
        *) mapfile -t COMPREPLY < <(compgen -W "train eval predict filters help" -- "$cur") ;;
        esac
        return 0
    fi
    cmd=${COMP_WORDS[1]}
    if [ "$cmd" = help ]; then
        [ "$cword" -eq 2 ] &&
            mapfile -t COMPREPLY < <(compgen -W "train eval predict filters" -- "$cur")
        return 0
    fi
    local opts
    opts=$(_cnn_options "$cmd")
    [ -n "$opts" ] || return 0

    # The value of an option: "--opt VALUE", "--opt=VALUE" split at '=' by
    # COMP_WORDBREAKS (words --opt, =, VALUE), or kept as one word.
    if [ "$cur" = "=" ] && [[ $prev == --* ]]; then
        _cnn_value "$prev" "" ""
        return 0
    fi
    if [ "$prev" = "=" ] && [ "$cword" -ge 3 ]; then
        _cnn_value "${COMP_WORDS[cword - 2]}" "$cur" ""
        return 0
    fi
    if [[ $cur == --*=* ]]; then
        _cnn_value "${cur%%=*}" "${cur#*=}" "${cur%%=*}="
        return 0
    fi
    if [[ $prev == --* ]] && [[ " $opts " == *" $prev "* ]] && [[ $_cnn_flags != *" $prev "* ]]; then
        _cnn_value "$prev" "$cur" ""
        return 0
    fi

    if [[ $cur == -* ]] || [ "$cmd" != predict ]; then
        mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
    else
        compopt -o filenames 2> /dev/null # predict's IMAGE arguments
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    fi
    return 0
}
complete -F _cnn cnn
