#define CONTRAREC_IMPLEMENTATION
#include "../contrarec.h"
#include <stdio.h>
int main(void) { return 0; }
