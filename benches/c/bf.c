/*
 * bf.c: a straightforward Brainfuck interpreter in C, a baseline for the
 * benchmark harness (`cargo bench --bench vms`, see docs/benchmarks.md).
 * The harness compiles it with `cc -O2`.
 *
 *     bf PROGRAM        (input from stdin, output to stdout)
 *
 * The same semantics as the bf VM (targets/bf): characters other than
 * `+-<>.,[]` are comments; 8-bit wrapping cells; a tape of 30000 cells that
 * grows on the right; moving left of cell 0 is an error; `,` at end of input
 * leaves the cell unchanged. "Straightforward": one step per source
 * character, no folding of runs; the only preparation is the table of
 * matching brackets, computed once before running.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAPE_SIZE 30000

static void die(const char *msg) {
    fprintf(stderr, "error: %s\n", msg);
    exit(1);
}

/* Reads the whole file, keeping only the eight command characters. */
static char *load(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "error: cannot read %s\n", path);
        exit(1);
    }
    size_t cap = 4096, n = 0;
    char *code = malloc(cap);
    if (!code) die("out of memory");
    int c;
    while ((c = getc(f)) != EOF) {
        if (c == 0 || !strchr("+-<>.,[]", c)) continue;
        if (n == cap) {
            cap *= 2;
            code = realloc(code, cap);
            if (!code) die("out of memory");
        }
        code[n++] = (char)c;
    }
    fclose(f);
    *len = n;
    return code;
}

/* For every bracket, the position of its partner. */
static size_t *match_brackets(const char *code, size_t len) {
    size_t *jump = malloc((len + 1) * sizeof *jump);
    size_t *stack = malloc((len + 1) * sizeof *stack);
    if (!jump || !stack) die("out of memory");
    size_t depth = 0;
    for (size_t i = 0; i < len; i++) {
        if (code[i] == '[') {
            stack[depth++] = i;
        } else if (code[i] == ']') {
            if (depth == 0) die("unmatched ']'");
            size_t open = stack[--depth];
            jump[open] = i;
            jump[i] = open;
        }
    }
    if (depth != 0) die("unmatched '['");
    free(stack);
    return jump;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PROGRAM\n", argv[0]);
        return 2;
    }
    size_t len;
    char *code = load(argv[1], &len);
    size_t *jump = match_brackets(code, len);

    size_t size = TAPE_SIZE, ptr = 0;
    unsigned char *tape = calloc(size, 1);
    if (!tape) die("out of memory");

    for (size_t pc = 0; pc < len; pc++) {
        switch (code[pc]) {
        case '+': tape[ptr]++; break;
        case '-': tape[ptr]--; break;
        case '>':
            if (++ptr == size) {
                tape = realloc(tape, 2 * size);
                if (!tape) die("out of memory");
                memset(tape + size, 0, size);
                size *= 2;
            }
            break;
        case '<':
            if (ptr == 0) die("moved left of cell 0");
            ptr--;
            break;
        case '.': putchar(tape[ptr]); break;
        case ',': {
            int c = getchar();
            if (c != EOF) tape[ptr] = (unsigned char)c;
            break;
        }
        case '[': if (tape[ptr] == 0) pc = jump[pc]; break;
        case ']': if (tape[ptr] != 0) pc = jump[pc]; break;
        }
    }
    if (fflush(stdout) != 0) die("cannot write output");
    return 0;
}
