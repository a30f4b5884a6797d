SELECT 'ınsert', `café` FROM t -- é
/* 中 */