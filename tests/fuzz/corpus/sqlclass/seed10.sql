SELECT 1 --\
'
; ADD JAR x --'