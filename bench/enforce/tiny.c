// tiny: the smallest static program: exits 0 at once. No libc, no loader
// (nothing for a sensor to check but the program itself) and under 1 KB,
// so run.sh can lay down thousands of copies.
//   cc -static -nostdlib -O2 -s -Wl,--build-id=none -Wl,-z,max-page-size=4096 -Wl,-z,noseparate-code -o tiny tiny.c
void _start(void) {
  __asm__ volatile("mov $60, %%eax\n\txor %%edi, %%edi\n\tsyscall" ::: "rax", "rdi", "memory");
  __builtin_unreachable();
}
